// What the CUDA runtime says about this machine's GPUs, without throwing.
#pragma once

#include <string>
#include <vector>

namespace lq::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  size_t total_memory_bytes = 0;
  size_t free_memory_bytes = 0;
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
};

struct DeviceReport {
  int driver_version = 0;   // CUDA version the driver supports (e.g. 13000), 0 when no driver
  int runtime_version = 0;  // CUDA runtime Lacquer was built with
  std::vector<DeviceInfo> devices;
  std::string why_none;     // set when no device is usable: the runtime's own words
};

DeviceReport query_devices();

}  // namespace lq::cuda
