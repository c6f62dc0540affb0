// CPU executors of the loudness meter's sample passes (host/loudness.hpp does the gating).
//
// K-weighting (kernels/dsp/k_weighting.hpp): per channel, stage 1 then stage 2 through
// dsp::biquad_df1_step in one sequential loop with float64 state, squared and summed per segment:
// the same bits as run_sequential of each stage's dsp::BiquadRecurrence. Parallel over channels.
//
// Why not in chunks (kernels/cpu/recurrence.hpp)? Speculated chunks of stage 1 meet the true
// trajectory within a few hundred samples, but stage 2's poles (radius 0.995 at 48 kHz, 1 + a1 + a2
// = 2.5e-5) make a dead band in which a state difference of a few ulps never decays, so its fix-up
// re-runs most of every chunk (measured on coloured noise, 2^17-sample chunks: 38 % of each chunk
// at 44.1 kHz, 78 % at 48, 86 % at 96, 97 % at 192) and chunking only adds work. Digital silence
// does reset it (outputs snap to 0).
//
// True peak: parallel over (channel, block of positions), combined by an exact max.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kernels/dsp/k_weighting.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cpu {

// One channel K-weighted from zero state and its squares summed per segment of segment_frames
// frames, fed in consecutive spans: after any spans, energies() holds the sums of the complete
// segments so far, bit for bit those of k_weighted_segment_energies over the whole channel.
class KWeightedEnergies {
 public:
  KWeightedEnergies(double sample_rate, int64_t segment_frames);
  void add(const float* x, int64_t n);
  // a.add(xa, n) and b.add(xb, n) in one loop (the same bits) when a and b were fed the same spans
  // and have the same coefficients (one meter's channels); otherwise the two calls.
  static void add_pair(KWeightedEnergies& a, const float* xa, KWeightedEnergies& b, const float* xb, int64_t n);
  const std::vector<double>& energies() const { return energies_; }

 private:
  template <int N>
  static void run(KWeightedEnergies* const (&e)[N], const float* const (&x)[N], int64_t n);
  dsp::KWeightingCoefficients k_;
  int64_t segment_frames_, in_segment_ = 0;
  double acc_ = 0.0;
  double x1_ = 0.0, x2_ = 0.0, u1_ = 0.0, u2_ = 0.0, y1_ = 0.0, y2_ = 0.0;  // {x, u, y}[n - 1], [n - 2]
  std::vector<double> energies_;
};

// The meter's sample passes over a signal fed in consecutive spans: the K-weighted segment energies
// of the `used` channels, the largest |x| and the largest dsp::true_peak_at reading over every
// channel (positions past the last frame at finish()). One parallel step per span: the
// K-weighting of two channels per task, their recurrences interleaved (the loop is bound by the
// recurrence's latency, so one thread runs two at about the speed of one), beside it the true-peak
// positions in blocks. The bits of k_weighted_segment_energies, sample_peak_scan and
// true_peak_scan over the whole signal, for any spans and any thread count.
class MeterStream {
 public:
  // true_peak = false: no true-peak scan (true_peak() stays 0), for a caller that has it elsewhere.
  MeterStream(std::span<const int> used, int channels, double sample_rate, int64_t segment_frames,
              bool true_peak = true);
  void add(const AudioBuffer& audio, int64_t begin, int64_t end, ThreadPool& pool);  // frames [begin, end)
  void finish();
  // From now on, the largest reading in each step of `frames` positions and where it is (called
  // before the first add()): block_peaks()[k] = {position, value} of step k's largest reading
  // (the first of equals), {0, 0} for a step with none.
  void record_block_peaks(int64_t frames);
  const std::vector<std::pair<int64_t, double>>& block_peaks() const { return block_peaks_; }
  const std::vector<double>& energies(size_t j) const { return k_[j].energies(); }  // of used[j]
  double sample_peak() const { return sample_peak_; }
  double true_peak() const { return true_peak_; }
  int64_t frames() const { return frames_; }

 private:
  static constexpr int64_t kHistory = dsp::kTruePeakTapsPerPhase - 1;
  std::vector<int> used_;
  std::vector<KWeightedEnergies> k_;
  std::vector<std::vector<float>> history_;  // per channel: its last kHistory frames (0 before the start)
  double sample_peak_ = 0.0, true_peak_ = 0.0;
  int64_t frames_ = 0;
  bool scan_true_peak_ = true;
  int64_t peak_step_ = 0;  // record_block_peaks' step; 0: not recorded
  std::vector<std::pair<int64_t, double>> block_peaks_;
  void note_peaks(const double* r, int64_t first_position, int64_t n);  // readings at positions first_position + i
  void note_peak(int64_t position, double value);
  // The largest of r's readings in each step they touch (the first of equals), with its position.
  std::vector<std::pair<int64_t, double>> step_maxima(const double* r, int64_t first_position, int64_t n) const;
};

// energies[j][k] = sum over i in [k*segment_frames, (k+1)*segment_frames) of y[i]^2, in float64 in
// index order, for k < frames / segment_frames (a trailing partial segment is dropped), where y is
// channel channels[j] K-weighted at audio.sample_rate from zero state. segment_frames >= 1.
std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio,
                                                             std::span<const int> channels,
                                                             int64_t segment_frames, ThreadPool& pool);

// Max over channels and over positions 0 <= n < frames + 11 of dsp::true_peak_at (linear): the
// BS.1770-4 Annex 2 interpolated peak, maxed with the sample values, including the filter's tail.
double true_peak_scan(const AudioBuffer& audio, ThreadPool& pool);

// Max |x| over channels and frames (linear).
double sample_peak_scan(const AudioBuffer& audio, ThreadPool& pool);

}  // namespace lq::cpu
