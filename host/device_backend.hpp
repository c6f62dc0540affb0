// The backend over the device interface (docs/architecture.md "The device interface"): the
// orchestration of the sample passes written once against kernels/device/device.hpp, executed by
// CUDA on a GPU (`--backend cuda`) and by the host executor everywhere (`--backend cuda-host`, a
// test aid). Every pass runs on the device: convolutions (EQ FIRs, reverb IRs), the compressor,
// the true-peak limiter, the meter's K-weighted segment energies and its true and sample peaks;
// except the compressor of the streamed chains and the RMS detector, which run on the host (the
// CPU backend's, over `host_pool`: they are handed spans already on the host). Calls come from one
// thread at a time (the render runs the stems' spans in parallel on the CPU backend only).
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

// host_pool: the host part's threads (must outlive the backend); null: one thread of its own.
std::unique_ptr<Backend> make_device_backend(std::string name, std::unique_ptr<dev::Device> device,
                                             DeviceBackendOptions options = {}, cpu::ThreadPool* host_pool = nullptr);

// The CUDA executor's backend on `device_index` (what make_cuda_backend returns, with `options`);
// throws UserError when the build or the machine has none.
std::unique_ptr<Backend> make_cuda_device_backend(int device_index, DeviceBackendOptions options);

// The host executor's backend over `pool` (which must outlive it): `--backend cuda-host`.
std::unique_ptr<Backend> make_cuda_host_backend(cpu::ThreadPool& pool, DeviceBackendOptions options = {});

}  // namespace lq
