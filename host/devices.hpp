// Backend discovery: which backends this build has and which GPU `--backend auto` would use.
#pragma once

#include <cstdint>
#include <string>

namespace lq {

// Multi-line human-readable description for `lacquer devices`.
std::string describe_devices();
// True when this build has CUDA and a device is usable.
bool cuda_usable(std::string* why_not = nullptr);
// The free memory of GPU 0 (bytes), or 0 when no GPU is usable.
int64_t cuda_free_memory_bytes();

}  // namespace lq
