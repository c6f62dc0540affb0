// Backend discovery: which backends this build has and which GPU `--backend auto` would use.
#pragma once

#include <string>

namespace lq {

// Multi-line human-readable description for `lacquer devices`.
std::string describe_devices();
// True when this build has CUDA and a device is usable.
bool cuda_usable(std::string* why_not = nullptr);

}  // namespace lq
