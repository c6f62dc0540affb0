// The CUDA backend (host/backend.hpp) over kernels/cuda's Executor, in builds with CUDA.
#ifdef LQ_HAVE_CUDA

#include <stdexcept>

#include "host/backend.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "kernels/cuda/executor.hpp"

namespace lq {

namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : exec_(device) {}
  std::string name() const override { return "cuda"; }
  std::string device() const override { return exec_.description(); }
  void convolve(std::span<const float* const> x, int64_t n_in, int64_t offset,
                std::span<const std::span<const float>> taps, std::span<float* const> y, int64_t n_out) override {
    exec_.convolve(x, n_in, offset, taps, y, n_out);
  }
  DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& params) override {
    // The RMS detector runs on the host (the device kernels read the per-sample magnitude).
    if (params.rms_detector) return cpu::compress(audio, params, host_pool_);
    return exec_.compress(audio, params);
  }
  std::unique_ptr<CompressorStream> compressor_stream(const dsp::CompressorParams& params, double sample_rate,
                                                      int channels) override {
    return make_cpu_compressor_stream(params, sample_rate, channels, host_pool_);
  }
  LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params) override {
    return exec_.limit_true_peak(audio, params);
  }
  std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio, std::span<const int> channels,
                                                               int64_t segment_frames) override {
    return exec_.k_weighted_segment_energies(audio, channels, segment_frames);
  }
  double true_peak_scan(const AudioBuffer& audio) override { return exec_.true_peak_scan(audio); }
  double sample_peak_scan(const AudioBuffer& audio) override { return exec_.sample_peak_scan(audio); }

 private:
  cuda::Executor exec_;
  cpu::ThreadPool host_pool_{1};  // the compressor streams' (calls from one thread at a time)
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device_index) {
  std::string why;
  if (!cuda_usable(&why)) throw UserError(std::string("--backend cuda: no usable GPU: ") + why);
  try {
    return std::make_unique<CudaBackend>(device_index);
  } catch (const std::runtime_error& e) {
    throw UserError(std::string("--backend cuda: cuda:") + std::to_string(device_index) + " cannot be used: " + e.what());
  }
}

}  // namespace lq

#endif  // LQ_HAVE_CUDA
