#include "kernels/cpu/loudness.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/dsp/k_weighting.hpp"
#include "kernels/cpu/true_peak_range.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio,
                                                             std::span<const int> channels,
                                                             int64_t segment_frames, ThreadPool& pool) {
  if (segment_frames < 1) throw std::invalid_argument("k_weighted_segment_energies: segment_frames < 1");
  if (!(audio.sample_rate > 0.0))
    throw std::invalid_argument("k_weighted_segment_energies: sample rate <= 0");
  for (int c : channels) {
    if (c < 0 || c >= audio.channel_count()) {
      throw std::invalid_argument("k_weighted_segment_energies: channel index out of range");
    }
  }
  const int64_t segments = audio.frames() / segment_frames;
  std::vector<std::vector<double>> energies(channels.size(),
                                            std::vector<double>(static_cast<size_t>(segments)));
  const auto k = dsp::k_weighting_coefficients(audio.sample_rate);
  pool.parallel_for(static_cast<int64_t>(channels.size()), [&](int64_t j) {
    const float* x = audio.channels[static_cast<size_t>(channels[static_cast<size_t>(j)])].data();
    double* out = energies[static_cast<size_t>(j)].data();
    // {x, u, y}[n - 1], [n - 2]: input, stage-1 and stage-2 outputs, from zero state.
    double x1 = 0.0, x2 = 0.0, u1 = 0.0, u2 = 0.0, y1 = 0.0, y2 = 0.0;
    for (int64_t s = 0; s < segments; ++s) {
      double acc = 0.0;
      for (int64_t i = s * segment_frames; i < (s + 1) * segment_frames; ++i) {
        const double x0 = double(x[i]);
        const double u0 = dsp::biquad_df1_step(k.shelf, x0, x1, x2, u1, u2);
        const double y0 = dsp::biquad_df1_step(k.highpass, u0, u1, u2, y1, y2);
        acc += y0 * y0;
        x2 = x1;
        x1 = x0;
        u2 = u1;
        u1 = u0;
        y2 = y1;
        y1 = y0;
      }
      out[s] = acc;
    }
  });
  return energies;
}

double true_peak_scan(const AudioBuffer& audio, ThreadPool& pool) {
  const int64_t len = audio.frames();
  if (len == 0 || audio.channel_count() == 0) return 0.0;
  constexpr int taps = dsp::kTruePeakTapsPerPhase;
  const int64_t positions = len + taps - 1;
  const int64_t block = int64_t{1} << 16;
  const int64_t blocks = (positions + block - 1) / block;
  std::vector<double> peaks(static_cast<size_t>(audio.channel_count() * blocks), 0.0);
  pool.parallel_for(static_cast<int64_t>(peaks.size()), [&](int64_t t) {
    const float* x = audio.channels[static_cast<size_t>(t / blocks)].data();
    const int64_t n0 = (t % blocks) * block, n1 = std::min(positions, n0 + block);
    std::vector<double> tp(static_cast<size_t>(n1 - n0));
    true_peak_range(x, len, n0, n1, tp.data());
    double peak = 0.0;
    for (double v : tp) peak = std::max(peak, v);
    peaks[static_cast<size_t>(t)] = peak;
  });
  return *std::max_element(peaks.begin(), peaks.end());
}

double sample_peak_scan(const AudioBuffer& audio, ThreadPool& pool) {
  const int64_t len = audio.frames();
  if (len == 0 || audio.channel_count() == 0) return 0.0;
  const int64_t block = int64_t{1} << 18;
  const int64_t blocks = (len + block - 1) / block;
  std::vector<float> peaks(static_cast<size_t>(audio.channel_count() * blocks), 0.0f);
  pool.parallel_for(static_cast<int64_t>(peaks.size()), [&](int64_t t) {
    const float* x = audio.channels[static_cast<size_t>(t / blocks)].data();
    const int64_t i0 = (t % blocks) * block, i1 = std::min(len, i0 + block);
    float peak = 0.0f;
    for (int64_t i = i0; i < i1; ++i) peak = std::max(peak, std::fabs(x[i]));
    peaks[static_cast<size_t>(t)] = peak;
  });
  return double(*std::max_element(peaks.begin(), peaks.end()));
}

}  // namespace lq::cpu
