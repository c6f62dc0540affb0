#include "host/devices.hpp"

#include <sstream>

#ifdef LQ_HAVE_CUDA
#include "kernels/cuda/device_query.cuh"
#endif

namespace lq {

#ifdef LQ_HAVE_CUDA
static std::string cuda_version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}
#endif

std::string describe_devices() {
  std::ostringstream out;
  out << "cpu: available (FFTW, " << "thread pool)\n";
#ifdef LQ_HAVE_CUDA
  const auto r = cuda::query_devices();
  out << "cuda: built with runtime " << cuda_version(r.runtime_version);
  if (r.driver_version > 0) out << ", driver supports CUDA " << cuda_version(r.driver_version);
  out << "\n";
  if (r.devices.empty()) {
    out << "cuda: no usable GPU: " << r.why_none << "\n";
    out << "auto: cpu (no usable GPU)\n";
  } else {
    out << "auto: cuda:" << r.devices.front().index << " (" << r.devices.front().name << ")\n";
  }
  for (const auto& d : r.devices) {
    out << "cuda:" << d.index << ": " << d.name << ", compute capability " << d.compute_major
        << "." << d.compute_minor << ", " << d.multiprocessors << " SMs, "
        << (d.total_memory_bytes >> 20) << " MiB (" << (d.free_memory_bytes >> 20)
        << " MiB free)\n";
  }
#else
  out << "cuda: not built (configure with LACQUER_CUDA=ON where nvcc is installed)\n";
  out << "auto: cpu (this build has no CUDA backend)\n";
#endif
  return out.str();
}

bool cuda_usable(std::string* why_not) {
#ifdef LQ_HAVE_CUDA
  const auto r = cuda::query_devices();
  if (!r.devices.empty()) return true;
  if (why_not) *why_not = r.why_none;
  return false;
#else
  if (why_not) *why_not = "this build has no CUDA backend";
  return false;
#endif
}

int64_t cuda_free_memory_bytes() {
#ifdef LQ_HAVE_CUDA
  const auto r = cuda::query_devices();
  return r.devices.empty() ? 0 : int64_t(r.devices.front().free_memory_bytes);
#else
  return 0;
#endif
}

}  // namespace lq
