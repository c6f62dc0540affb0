#include "kernels/cpu/loudness.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/dsp/k_weighting.hpp"
#include "kernels/cpu/true_peak_range.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

KWeightedEnergies::KWeightedEnergies(double sample_rate, int64_t segment_frames)
    : k_(dsp::k_weighting_coefficients(sample_rate)), segment_frames_(segment_frames) {
  if (segment_frames < 1) throw std::invalid_argument("k_weighted_segment_energies: segment_frames < 1");
  if (!(sample_rate > 0.0)) throw std::invalid_argument("k_weighted_segment_energies: sample rate <= 0");
}

void KWeightedEnergies::add(const float* x, int64_t n) {
  double x1 = x1_, x2 = x2_, u1 = u1_, u2 = u2_, y1 = y1_, y2 = y2_, acc = acc_;
  for (int64_t i = 0; i < n;) {
    const int64_t stop = std::min(n, i + (segment_frames_ - in_segment_));
    in_segment_ += stop - i;
    for (; i < stop; ++i) {
      const double x0 = double(x[i]);
      const double u0 = dsp::biquad_df1_step(k_.shelf, x0, x1, x2, u1, u2);
      const double y0 = dsp::biquad_df1_step(k_.highpass, u0, u1, u2, y1, y2);
      acc += y0 * y0;
      x2 = x1;
      x1 = x0;
      u2 = u1;
      u1 = u0;
      y2 = y1;
      y1 = y0;
    }
    if (in_segment_ == segment_frames_) {
      energies_.push_back(acc);
      acc = 0.0;
      in_segment_ = 0;
    }
  }
  x1_ = x1, x2_ = x2, u1_ = u1, u2_ = u2, y1_ = y1, y2_ = y2, acc_ = acc;
}

std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio,
                                                             std::span<const int> channels,
                                                             int64_t segment_frames, ThreadPool& pool) {
  for (int c : channels) {
    if (c < 0 || c >= audio.channel_count()) {
      throw std::invalid_argument("k_weighted_segment_energies: channel index out of range");
    }
  }
  std::vector<KWeightedEnergies> k(channels.size(), KWeightedEnergies(audio.sample_rate, segment_frames));
  pool.parallel_for(static_cast<int64_t>(channels.size()), [&](int64_t j) {
    k[size_t(j)].add(audio.channels[static_cast<size_t>(channels[static_cast<size_t>(j)])].data(), audio.frames());
  });
  std::vector<std::vector<double>> energies;
  for (auto& e : k) energies.push_back(e.energies());
  return energies;
}

void TruePeakStream::add(const float* x, int64_t n, ThreadPool& pool) {
  if (n <= 0) return;
  window_.resize(size_t(kHistory + n));
  std::copy(x, x + n, window_.begin() + kHistory);
  // Positions of the span's frames: window positions [kHistory, kHistory + n), every tap inside.
  const int64_t block = int64_t{1} << 16, blocks = (n + block - 1) / block;
  std::vector<double> peaks(size_t(blocks), 0.0);
  pool.parallel_for(blocks, [&](int64_t b) {
    const int64_t n0 = kHistory + b * block, n1 = std::min(kHistory + n, n0 + block);
    std::vector<double> tp(size_t(n1 - n0));
    true_peak_range(window_.data(), kHistory + n, n0, n1, tp.data());
    peaks[size_t(b)] = *std::max_element(tp.begin(), tp.end());
  });
  peak_ = std::max(peak_, *std::max_element(peaks.begin(), peaks.end()));
  std::copy(window_.end() - kHistory, window_.end(), window_.begin());
  window_.resize(size_t(kHistory));
}

double TruePeakStream::finish() {
  // The tail: positions after the last frame read the last 11 frames and zeros.
  double tp[kHistory];
  true_peak_range(window_.data(), kHistory, kHistory, 2 * kHistory, tp);
  for (double v : tp) peak_ = std::max(peak_, v);
  return peak_;
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
