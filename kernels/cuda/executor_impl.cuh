// The executor's state and the device helpers its stage files share (CUDA-only header).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cuda/cuda_support.cuh"
#include "kernels/cuda/executor.hpp"

namespace lq::cuda {

// Planar audio on the device: channel c at data + c * frames.
struct DeviceAudio {
  DeviceBuffer<float> data;
  int channels = 0;
  int64_t frames = 0;
  float* channel(int c) const { return data.get() + static_cast<size_t>(c) * static_cast<size_t>(frames); }
};

struct Executor::Impl {
  int device = 0;
  std::string description;
  Stream stream;
  cudaStream_t s() const { return stream.get(); }

  DeviceAudio upload(const cpu::AudioBuffer& a);
  void download(const DeviceAudio& d, cpu::AudioBuffer& a);

  // The limiter's detector: max over channels and positions n in [0, frames + 127) of Annex 2 and
  // the 4x sincs (kernels/dsp/true_peak.hpp); `profile` (frames + 127 doubles) receives each position's.
  double limiter_peak(const DeviceAudio& a, double* profile);
};

// Exact maximum of a device array of doubles (per-block maxima, then the blocks' on the host).
double device_max(const double* values, int64_t n, cudaStream_t stream);

}  // namespace lq::cuda
