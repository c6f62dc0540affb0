// The CUDA compressor and true-peak limiter (kernels/cuda/dynamics.cu): one device, one stream.
// Plain C++ interface (no CUDA types), so host/ compiles it with g++; host/cuda_backend.cpp gives
// it the `cuda` backend's dynamics (host/backend.hpp states the contracts). The other passes run
// on the device interface (host/device_backend.hpp); these two follow them there next.
//
// Each call uploads its buffer, runs its kernels on the stream and downloads the result before it
// returns. Device memory comes from the stream-ordered pool.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/dsp/dynamics_params.hpp"

namespace lq::cuda {

class Executor {
 public:
  explicit Executor(int device_index);  // throws CudaError when the device cannot be used
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  std::string description() const;  // "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 81559 MiB)"

  cpu::DynamicsStats compress(cpu::AudioBuffer& audio, const dsp::CompressorParams& params);
  cpu::LimiterStats limit_true_peak(cpu::AudioBuffer& audio, const dsp::LimiterParams& params);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lq::cuda
