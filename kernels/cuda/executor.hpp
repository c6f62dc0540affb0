// The CUDA executor of the chain's sample passes: one device, one stream, cuFFT plans and filter
// spectra cached by shape. Plain C++ interface (no CUDA types), so host/ compiles it with g++;
// host/cuda_backend.cpp wraps it as the `cuda` Backend (host/backend.hpp states the contracts).
//
// Each call uploads its buffers, runs its kernels on the stream and downloads the result before it
// returns (stage-level offload). Device memory comes from the stream-ordered pool; long inputs are
// processed in fixed batches (convolutions) so a song never needs more than a bounded working set
// beyond its own buffers.
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

  void convolve(std::span<const float* const> x, int64_t n_in, int64_t offset,
                std::span<const std::span<const float>> taps, std::span<float* const> y, int64_t n_out);
  cpu::DynamicsStats compress(cpu::AudioBuffer& audio, const dsp::CompressorParams& params);
  cpu::LimiterStats limit_true_peak(cpu::AudioBuffer& audio, const dsp::LimiterParams& params);
  std::vector<std::vector<double>> k_weighted_segment_energies(const cpu::AudioBuffer& audio,
                                                               std::span<const int> channels,
                                                               int64_t segment_frames);
  double true_peak_scan(const cpu::AudioBuffer& audio);
  double sample_peak_scan(const cpu::AudioBuffer& audio);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lq::cuda
