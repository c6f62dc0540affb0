// The CUDA executor of the device interface (kernels/device/device.hpp). Plain C++ (no CUDA types).
#pragma once

#include <memory>

#include "kernels/device/device.hpp"

namespace lq::cuda {

// Device `index` with its own non-blocking stream; throws CudaError when it cannot be used.
std::unique_ptr<dev::Device> make_cuda_device(int index);

}  // namespace lq::cuda
