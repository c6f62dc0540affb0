// Device discovery for `lacquer devices` and `--backend auto`: driver and runtime versions,
// and for each GPU its name, memory and compute capability. Never throws: a machine without a
// driver or a device gets a report that says why none is usable.
#include <cuda_runtime.h>

#include "kernels/cuda/device_query.cuh"

namespace lq::cuda {

DeviceReport query_devices() {
  DeviceReport r;
  cudaRuntimeGetVersion(&r.runtime_version);
  if (cudaDriverGetVersion(&r.driver_version) != cudaSuccess || r.driver_version == 0) {
    r.why_none = "no NVIDIA driver is installed (libcuda not found)";
    return r;
  }
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    r.why_none = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    if (err == cudaErrorInsufficientDriver) {
      r.why_none += " (driver supports CUDA " + std::to_string(r.driver_version / 1000) + "." +
                    std::to_string(r.driver_version % 1000 / 10) + ", runtime needs " +
                    std::to_string(r.runtime_version / 1000) + "." +
                    std::to_string(r.runtime_version % 1000 / 10) + ")";
    }
    return r;
  }
  if (count == 0) {
    r.why_none = "the driver reports no CUDA device";
    return r;
  }
  // The free-memory query needs each device current; the caller's device is restored after, so the
  // thread is not left on the last one (plans and allocations made later land where intended).
  int previous = 0;
  const bool had_device = cudaGetDevice(&previous) == cudaSuccess;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.total_memory_bytes = p.totalGlobalMem;
    d.compute_major = p.major;
    d.compute_minor = p.minor;
    d.multiprocessors = p.multiProcessorCount;
    if (cudaSetDevice(i) == cudaSuccess) {
      size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d.free_memory_bytes = free_b;
    }
    r.devices.push_back(d);
  }
  if (had_device) cudaSetDevice(previous);
  if (r.devices.empty()) r.why_none = "no CUDA device could be queried";
  return r;
}

}  // namespace lq::cuda
