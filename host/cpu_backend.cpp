// The CPU backend (host/backend.hpp): kernels/cpu over the caller's thread pool, and the choice of
// backend for --backend.
#include <xxhash.h>

#include <map>
#include <tuple>

#include "host/backend.hpp"
#include "host/device_backend.hpp"
#include "host/devices.hpp"
#include "host/errors.hpp"
#include "host/shared_cache.hpp"
#include "kernels/cpu/convolver.hpp"
#include "kernels/cpu/loudness.hpp"

namespace lq {

std::string CpuBackend::device() const { return std::to_string(pool_.size()) + " threads"; }

namespace {

// Convolvers (their filter spectra) by the taps' bytes, shared across calls and songs: a batch's
// identical IRs and EQs are transformed once. 32 entries: at most about 130 MiB of spectra.
using FilterKey = std::tuple<uint64_t, uint64_t, size_t>;
SharedCache<FilterKey, cpu::Convolver>& convolver_cache() {
  static SharedCache<FilterKey, cpu::Convolver> cache(32);
  return cache;
}

std::shared_ptr<const cpu::Convolver> convolver_for(std::span<const float> taps) {
  const XXH128_hash_t h = XXH3_128bits(taps.data(), taps.size_bytes());
  return convolver_cache().get(FilterKey{h.high64, h.low64, taps.size()}, [&] { return cpu::Convolver(taps); });
}

}  // namespace

void CpuBackend::convolve(std::span<const float* const> x, int64_t n_in, int64_t offset,
                          std::span<const std::span<const float>> taps, std::span<float* const> y,
                          int64_t n_out) {
  // Held here: the cache may drop its entries meanwhile. Made side by side the first time (a
  // reverb's two IR channels: a 2^20-point spectrum each).
  std::vector<std::shared_ptr<const cpu::Convolver>> held(x.size());
  pool_.parallel_for(int64_t(x.size()), [&](int64_t c) { held[size_t(c)] = convolver_for(taps[size_t(c)]); });
  std::vector<const cpu::Convolver*> convolvers;
  for (const auto& h : held) convolvers.push_back(h.get());
  cpu::process_channels(convolvers, x, n_in, offset, y, n_out, pool_);
}

DynamicsStats CpuBackend::compress(AudioBuffer& audio, const dsp::CompressorParams& params) {
  return cpu::compress(audio, params, pool_);
}

namespace {

class CpuCompressorStream final : public CompressorStream {
 public:
  CpuCompressorStream(const dsp::CompressorParams& params, double sample_rate, int channels, cpu::ThreadPool& pool)
      : stream_(params, sample_rate, channels), pool_(pool) {}
  int64_t lookahead_frames() const override { return stream_.lookahead_frames(); }
  void process(AudioBuffer& audio, int64_t frames) override { stream_.process(audio, frames, pool_); }
  DynamicsStats stats() const override { return stream_.stats(); }
  void record_steps(int64_t step_frames) override { stream_.record_steps(step_frames); }
  std::vector<float> step_reductions() const override { return stream_.step_reductions(); }

 private:
  cpu::CompressorStream stream_;
  cpu::ThreadPool& pool_;
};

}  // namespace

std::unique_ptr<CompressorStream> make_cpu_compressor_stream(const dsp::CompressorParams& params, double sample_rate,
                                                             int channels, cpu::ThreadPool& pool) {
  return std::make_unique<CpuCompressorStream>(params, sample_rate, channels, pool);
}

std::unique_ptr<CompressorStream> CpuBackend::compressor_stream(const dsp::CompressorParams& params, double sample_rate,
                                                                int channels) {
  return make_cpu_compressor_stream(params, sample_rate, channels, pool_);
}

LimiterStats CpuBackend::limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params) {
  return cpu::limit_true_peak(audio, params, pool_);
}

LimiterStats CpuBackend::limit_true_peak_while_read(AudioBuffer& audio, const dsp::LimiterParams& params,
                                                    const std::function<void(int64_t)>& read_up_to) {
  return cpu::limit_true_peak(audio, params, pool_, read_up_to);
}

std::vector<std::vector<double>> CpuBackend::k_weighted_segment_energies(const AudioBuffer& audio,
                                                                         std::span<const int> channels,
                                                                         int64_t segment_frames) {
  return cpu::k_weighted_segment_energies(audio, channels, segment_frames, pool_);
}

double CpuBackend::true_peak_scan(const AudioBuffer& audio) { return cpu::true_peak_scan(audio, pool_); }
double CpuBackend::sample_peak_scan(const AudioBuffer& audio) { return cpu::sample_peak_scan(audio, pool_); }

Backend::MeterPasses CpuBackend::meter_passes(const AudioBuffer& audio, std::span<const int> channels,
                                              int64_t segment_frames) {
  if (!(audio.sample_rate > 0.0)) throw std::invalid_argument("k_weighted_segment_energies: sample rate <= 0");
  cpu::MeterStream m(channels, audio.channel_count(), audio.sample_rate, segment_frames);
  constexpr int64_t kSpan = int64_t{1} << 18;  // a span's history copies stay small
  for (int64_t b = 0; b < audio.frames(); b += kSpan) m.add(audio, b, std::min(audio.frames(), b + kSpan), pool_);
  m.finish();
  MeterPasses r;
  for (size_t j = 0; j < channels.size(); ++j) r.energies.push_back(m.energies(j));
  r.sample_peak = m.sample_peak();
  r.true_peak = m.true_peak();
  return r;
}

bool known_backend(const std::string& name) {
  return name == "cpu" || name == "cuda" || name == "auto" || name == "cuda-host";
}

std::unique_ptr<Backend> make_backend(const std::string& name, cpu::ThreadPool& pool, std::string* note,
                                      const DeviceBackendOptions* device) {
  const DeviceBackendOptions options = device ? *device : DeviceBackendOptions{};
  if (name == "cpu") return std::make_unique<CpuBackend>(pool);
  if (name == "cuda") return make_cuda_device_backend(0, options);
  if (name == "cuda-host") return make_cuda_host_backend(pool, options);
  if (name == "auto") {
    std::string why;
    if (cuda_usable(&why)) return make_cuda_device_backend(0, options);
    if (note) *note = "no usable GPU (" + why + "): rendered on the CPU";
    return std::make_unique<CpuBackend>(pool);
  }
  throw UsageError("--backend " + name + ": unknown backend (" + kBackendNames + ")");
}

#ifndef LQ_HAVE_CUDA
std::unique_ptr<Backend> make_cuda_backend(int) {
  throw UsageError(std::string("--backend cuda: this build has no CUDA backend (configure with LACQUER_CUDA=ON where nvcc is installed)"));
}
std::unique_ptr<Backend> make_cuda_device_backend(int device_index, DeviceBackendOptions) { return make_cuda_backend(device_index); }
#endif

}  // namespace lq
