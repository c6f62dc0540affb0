#include "kernels/cpu/loudness.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels/dsp/k_weighting.hpp"
#include "kernels/cpu/true_peak_range.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

KWeightedEnergies::KWeightedEnergies(double sample_rate, int64_t segment_frames)
    : k_(dsp::k_weighting_coefficients(sample_rate)), segment_frames_(segment_frames) {
  if (segment_frames < 1) throw std::invalid_argument("k_weighted_segment_energies: segment_frames < 1");
  if (!(sample_rate > 0.0)) throw std::invalid_argument("k_weighted_segment_energies: sample rate <= 0");
}

namespace {

#if defined(__SSE2__)
// dsp::biquad_df1_step on two channels at once, lane c being channel c: the same IEEE double
// operations in the same order (SSE2 lanes round as scalars do; the build does not contract), and
// the snap as a mask, so the result needs no trip through an integer register (which the scalar
// select took, on the recurrence's critical path).
inline __m128d biquad_df1_step2(const dsp::BiquadCoefficients& c, __m128d x0, __m128d x1, __m128d x2, __m128d y1,
                                __m128d y2) {
  __m128d v = _mm_add_pd(_mm_add_pd(_mm_mul_pd(_mm_set1_pd(c.b0), x0), _mm_mul_pd(_mm_set1_pd(c.b1), x1)),
                         _mm_mul_pd(_mm_set1_pd(c.b2), x2));
  v = _mm_sub_pd(_mm_sub_pd(v, _mm_mul_pd(_mm_set1_pd(c.a2), y2)), _mm_mul_pd(_mm_set1_pd(c.a1), y1));
  const __m128d magnitude = _mm_andnot_pd(_mm_set1_pd(-0.0), v);
  return _mm_andnot_pd(_mm_cmplt_pd(magnitude, _mm_set1_pd(dsp::kKWeightingSnap)), v);
}
#endif

}  // namespace

// N channels' recurrences in one loop (their state in locals, so the N dependency chains overlap);
// each channel's operations are those of a loop of its own. Two channels (add_pair: the same
// coefficients) run in the two lanes of SSE2 registers: the same bits, about 1.6x faster.
template <int N>
void KWeightedEnergies::run(KWeightedEnergies* const (&e)[N], const float* const (&x)[N], int64_t n) {
  double x1[N], x2[N], u1[N], u2[N], y1[N], y2[N], acc[N];
  for (int c = 0; c < N; ++c) {
    x1[c] = e[c]->x1_, x2[c] = e[c]->x2_, u1[c] = e[c]->u1_, u2[c] = e[c]->u2_;
    y1[c] = e[c]->y1_, y2[c] = e[c]->y2_, acc[c] = e[c]->acc_;
  }
  int64_t in_segment = e[0]->in_segment_;
  const int64_t segment = e[0]->segment_frames_;
  for (int64_t i = 0; i < n;) {
    const int64_t stop = std::min(n, i + (segment - in_segment));
    in_segment += stop - i;
#if defined(__SSE2__)
    if constexpr (N == 2) {  // add_pair: one meter's channels, the same coefficients
      const dsp::KWeightingCoefficients& k = e[0]->k_;
      __m128d vx1 = _mm_loadu_pd(x1), vx2 = _mm_loadu_pd(x2), vu1 = _mm_loadu_pd(u1), vu2 = _mm_loadu_pd(u2);
      __m128d vy1 = _mm_loadu_pd(y1), vy2 = _mm_loadu_pd(y2), vacc = _mm_loadu_pd(acc);
      for (; i < stop; ++i) {
        const __m128d x0 = _mm_set_pd(double(x[1][i]), double(x[0][i]));
        const __m128d u0 = biquad_df1_step2(k.shelf, x0, vx1, vx2, vu1, vu2);
        const __m128d y0 = biquad_df1_step2(k.highpass, u0, vu1, vu2, vy1, vy2);
        vacc = _mm_add_pd(vacc, _mm_mul_pd(y0, y0));
        vx2 = vx1, vx1 = x0, vu2 = vu1, vu1 = u0, vy2 = vy1, vy1 = y0;
      }
      _mm_storeu_pd(x1, vx1), _mm_storeu_pd(x2, vx2), _mm_storeu_pd(u1, vu1), _mm_storeu_pd(u2, vu2);
      _mm_storeu_pd(y1, vy1), _mm_storeu_pd(y2, vy2), _mm_storeu_pd(acc, vacc);
    }
#endif
    for (; i < stop; ++i) {
      for (int c = 0; c < N; ++c) {
        const double x0 = double(x[c][i]);
        const double u0 = dsp::biquad_df1_step(e[c]->k_.shelf, x0, x1[c], x2[c], u1[c], u2[c]);
        const double y0 = dsp::biquad_df1_step(e[c]->k_.highpass, u0, u1[c], u2[c], y1[c], y2[c]);
        acc[c] += y0 * y0;
        x2[c] = x1[c], x1[c] = x0, u2[c] = u1[c], u1[c] = u0, y2[c] = y1[c], y1[c] = y0;
      }
    }
    if (in_segment == segment) {
      for (int c = 0; c < N; ++c) {
        e[c]->energies_.push_back(acc[c]);
        acc[c] = 0.0;
      }
      in_segment = 0;
    }
  }
  for (int c = 0; c < N; ++c) {
    e[c]->x1_ = x1[c], e[c]->x2_ = x2[c], e[c]->u1_ = u1[c], e[c]->u2_ = u2[c];
    e[c]->y1_ = y1[c], e[c]->y2_ = y2[c], e[c]->acc_ = acc[c];
    e[c]->in_segment_ = in_segment;
  }
}

void KWeightedEnergies::add(const float* x, int64_t n) { run<1>({this}, {x}, n); }

void KWeightedEnergies::add_pair(KWeightedEnergies& a, const float* xa, KWeightedEnergies& b, const float* xb, int64_t n) {
  if (a.in_segment_ != b.in_segment_ || a.segment_frames_ != b.segment_frames_ ||
      std::memcmp(&a.k_, &b.k_, sizeof a.k_) != 0) {
    a.add(xa, n);
    b.add(xb, n);
    return;
  }
  run<2>({&a, &b}, {xa, xb}, n);
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

MeterStream::MeterStream(std::span<const int> used, int channels, double sample_rate, int64_t segment_frames,
                         bool true_peak)
    : used_(used.begin(), used.end()),
      k_(used.size(), KWeightedEnergies(sample_rate, segment_frames)),
      history_(size_t(channels), std::vector<float>(size_t(kHistory), 0.0f)),
      scan_true_peak_(true_peak) {
  for (int c : used_) {
    if (c < 0 || c >= channels) throw std::invalid_argument("k_weighted_segment_energies: channel index out of range");
  }
}

void MeterStream::add(const AudioBuffer& audio, int64_t begin, int64_t end, ThreadPool& pool) {
  const int64_t n = end - begin;
  const int channels = int(history_.size());
  if (audio.channel_count() != channels) throw std::invalid_argument("loudness: a span of another channel count");
  if (n <= 0) return;
  const int64_t k_tasks = (int64_t(used_.size()) + 1) / 2;
  constexpr int64_t kTpBlock = int64_t{1} << 16;
  const int64_t tp_blocks = (n + kTpBlock - 1) / kTpBlock;
  std::vector<double> tp(size_t(channels * tp_blocks), 0.0);
  std::vector<float> sp(tp.size(), 0.0f);
  // record_block_peaks: each task's steps' largest readings, found beside its scan.
  std::vector<std::vector<std::pair<int64_t, double>>> task_peaks(peak_step_ > 0 ? tp.size() : 0);
  auto x_of = [&](int c) { return audio.channels[size_t(c)].data() + begin; };
  pool.parallel_for(k_tasks + channels * tp_blocks, [&](int64_t t) {
    if (t < k_tasks) {
      const size_t j = size_t(2 * t);
      if (j + 1 < used_.size()) {
        KWeightedEnergies::add_pair(k_[j], x_of(used_[j]), k_[j + 1], x_of(used_[j + 1]), n);
      } else {
        k_[j].add(x_of(used_[j]), n);
      }
      return;
    }
    const int64_t u = t - k_tasks, c = u / tp_blocks, b0 = (u % tp_blocks) * kTpBlock, b1 = std::min(n, b0 + kTpBlock);
    const float* x = x_of(int(c));
    sp[size_t(u)] = cpu::sample_peak(x + b0, b1 - b0);
    if (!scan_true_peak_) return;
    // Positions of frames kHistory on read the span only; the first ones need the history (below).
    const int64_t p0 = std::max(b0, kHistory);
    if (p0 >= b1) return;
    std::vector<double> r(size_t(b1 - p0));
    true_peak_range(x, n, p0, b1, r.data());
    tp[size_t(u)] = max_reading(r.data(), int64_t(r.size()));
    if (peak_step_ > 0) task_peaks[size_t(u)] = step_maxima(r.data(), frames_ + p0, int64_t(r.size()));
  });
  if (peak_step_ > 0) {
    // In position order within each channel (the first of equal readings wins), channel by channel.
    for (const auto& steps : task_peaks) {
      for (const auto& [pos, value] : steps) note_peak(pos, value);
    }
  }
  for (float v : sp) sample_peak_ = std::max(sample_peak_, double(v));
  for (double v : tp) true_peak_ = std::max(true_peak_, v);
  frames_ += n;
  if (!scan_true_peak_) return;
  // The first kHistory positions from the history and the span's first frames; then the history.
  const int64_t head = std::min(n, kHistory);
  for (int c = 0; c < channels; ++c) {
    std::vector<float> w(history_[size_t(c)]);
    w.insert(w.end(), x_of(c), x_of(c) + head);
    double r[kHistory];
    true_peak_range(w.data(), kHistory + head, kHistory, kHistory + head, r);
    for (int64_t i = 0; i < head; ++i) true_peak_ = std::max(true_peak_, r[i]);
    if (peak_step_ > 0) note_peaks(r, frames_ - n, head);
    // The new history: the last kHistory frames of (history, span).
    if (n >= kHistory) {
      history_[size_t(c)].assign(x_of(c) + n - kHistory, x_of(c) + n);
    } else {
      history_[size_t(c)].assign(w.end() - kHistory, w.end());
    }
  }
}

void MeterStream::finish() {
  if (!scan_true_peak_) return;
  // The filter's tail: positions after the last frame read the last kHistory frames and zeros.
  for (const auto& h : history_) {
    double r[kHistory];
    true_peak_range(h.data(), kHistory, kHistory, 2 * kHistory, r);
    for (double v : r) true_peak_ = std::max(true_peak_, v);
    if (peak_step_ > 0) note_peaks(r, frames_, kHistory);
  }
}

void MeterStream::record_block_peaks(int64_t frames) {
  if (frames < 1 || frames_ > 0) throw std::invalid_argument("record_block_peaks: a step of at least one frame, before add()");
  peak_step_ = frames;
}

std::vector<std::pair<int64_t, double>> MeterStream::step_maxima(const double* r, int64_t first_position, int64_t n) const {
  std::vector<std::pair<int64_t, double>> out;
  for (int64_t i = 0; i < n;) {
    const int64_t pos = first_position + i;
    const int64_t end = std::min(n, (pos / peak_step_ + 1) * peak_step_ - first_position);  // this step's last reading + 1
    int64_t best = i;
    for (int64_t j = i + 1; j < end; ++j) best = r[j] > r[best] ? j : best;
    out.emplace_back(first_position + best, r[best]);
    i = end;
  }
  return out;
}

void MeterStream::note_peak(int64_t pos, double value) {
  const size_t k = size_t(pos / peak_step_);
  if (k >= block_peaks_.size()) block_peaks_.resize(k + 1, {0, 0.0});
  if (value > block_peaks_[k].second) block_peaks_[k] = {pos, value};
}

void MeterStream::note_peaks(const double* r, int64_t first_position, int64_t n) {
  for (const auto& [pos, value] : step_maxima(r, first_position, n)) note_peak(pos, value);
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
    peaks[static_cast<size_t>(t)] = max_reading(tp.data(), n1 - n0);
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
    peaks[static_cast<size_t>(t)] = sample_peak(x + i0, i1 - i0);
  });
  return double(*std::max_element(peaks.begin(), peaks.end()));
}

}  // namespace lq::cpu
