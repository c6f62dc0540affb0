// The CUDA backend (host/backend.hpp), in builds with CUDA: the device backend
// (host/device_backend.hpp) over the CUDA executor of the device interface, with the compressor
// and the limiter on kernels/cuda's Executor (dynamics.cu) until they move onto the interface.
#ifdef LQ_HAVE_CUDA

#include <stdexcept>

#include "host/backend.hpp"
#include "host/device_backend.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "kernels/cuda/cuda_device.hpp"
#include "kernels/cuda/executor.hpp"

namespace lq {

namespace {

// The compressor and the limiter on kernels/cuda's Executor (the device backend's `dynamics`).
class CudaDynamics final : public Backend {
 public:
  explicit CudaDynamics(int device) : exec_(device) {}
  std::string name() const override { return "cuda"; }
  std::string device() const override { return exec_.description(); }
  void convolve(std::span<const float* const>, int64_t, int64_t, std::span<const std::span<const float>>,
                std::span<float* const>, int64_t) override {
    throw std::logic_error("CudaDynamics runs only the compressor and the limiter");
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
  std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer&, std::span<const int>, int64_t) override {
    throw std::logic_error("CudaDynamics runs only the compressor and the limiter");
  }
  double true_peak_scan(const AudioBuffer&) override {
    throw std::logic_error("CudaDynamics runs only the compressor and the limiter");
  }
  double sample_peak_scan(const AudioBuffer&) override {
    throw std::logic_error("CudaDynamics runs only the compressor and the limiter");
  }

 private:
  cuda::Executor exec_;
  cpu::ThreadPool host_pool_{1};  // the compressor streams' (calls from one thread at a time)
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device_index) { return make_cuda_device_backend(device_index, {}); }

std::unique_ptr<Backend> make_cuda_device_backend(int device_index, DeviceBackendOptions options) {
  std::string why;
  if (!cuda_usable(&why)) throw UserError(std::string("--backend cuda: no usable GPU: ") + why);
  try {
    return make_device_backend("cuda", cuda::make_cuda_device(device_index), std::make_unique<CudaDynamics>(device_index),
                               options);
  } catch (const std::runtime_error& e) {
    throw UserError(std::string("--backend cuda: cuda:") + std::to_string(device_index) + " cannot be used: " + e.what());
  }
}

}  // namespace lq

#endif  // LQ_HAVE_CUDA
