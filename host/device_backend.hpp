// The backend over the device interface (docs/architecture.md "The device interface"): the
// orchestration of the sample passes written once against kernels/device/device.hpp, executed by
// CUDA on a GPU (`--backend cuda`) and by the host executor everywhere (`--backend cuda-host`, a
// test aid). It runs the convolutions (EQ FIRs, reverb IRs) and the meter's passes (K-weighted
// segment energies, true and sample peaks) on the device; the compressor and the limiter go to
// `dynamics` (for cuda: kernels/cuda's executor; for cuda-host: the CPU backend) until they move
// onto the device interface too.
#pragma once

#include <memory>
#include <string>

#include "host/backend.hpp"
#include "kernels/device/device.hpp"

namespace lq {

struct DeviceBackendOptions {
  // Real frame samples per convolution batch (frames of one FFT size transformed together): a
  // constant of the algorithm on a GPU (128 MiB of frames); tests lower it to run several batches
  // on short material. The bits do not depend on it.
  int64_t batch_samples = int64_t{1} << 25;
};

std::unique_ptr<Backend> make_device_backend(std::string name, std::unique_ptr<dev::Device> device,
                                             std::unique_ptr<Backend> dynamics, DeviceBackendOptions options = {});

// The CUDA executor's backend on `device_index` (what make_cuda_backend returns, with `options`);
// throws UserError when the build or the machine has none.
std::unique_ptr<Backend> make_cuda_device_backend(int device_index, DeviceBackendOptions options);

// The host executor's backend over `pool` (which must outlive it): `--backend cuda-host`.
std::unique_ptr<Backend> make_cuda_host_backend(cpu::ThreadPool& pool, DeviceBackendOptions options = {});

}  // namespace lq
