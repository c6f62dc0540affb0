// The CUDA backend (host/backend.hpp), in builds with CUDA: the device backend
// (host/device_backend.hpp) over the CUDA executor of the device interface.
#ifdef LQ_HAVE_CUDA

#include <stdexcept>

#include "host/backend.hpp"
#include "host/device_backend.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "kernels/cuda/cuda_device.hpp"

namespace lq {

std::unique_ptr<Backend> make_cuda_backend(int device_index) { return make_cuda_device_backend(device_index, {}); }

std::unique_ptr<Backend> make_cuda_device_backend(int device_index, DeviceBackendOptions options) {
  std::string why;
  if (!cuda_usable(&why)) throw UserError(std::string("--backend cuda: no usable GPU: ") + why);
  try {
    return make_device_backend("cuda", cuda::make_cuda_device(device_index), options);
  } catch (const std::runtime_error& e) {
    throw UserError(std::string("--backend cuda: cuda:") + std::to_string(device_index) + " cannot be used: " + e.what());
  }
}

}  // namespace lq

#endif  // LQ_HAVE_CUDA
