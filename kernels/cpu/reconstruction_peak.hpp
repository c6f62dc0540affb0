// An upper bound of the peak of the band-limited reconstruction of a signal: the value every ideal
// reader (a D/A converter, an ideal interpolator at any factor, a codec's resampler before its
// own errors) can at most see. The true-peak ceiling is guaranteed on this bound
// (docs/algorithms.md "The reconstruction bound").
//
// x(t) = sum_k x[k] sinc(t - k), band-limited to B = fs/2, |x(t)| <= M. Two facts make the bound:
//  (1) Bernstein: |x''(t)| <= (2 pi B)^2 M. At a local maximum t* of |x| with value V, a grid point
//      g with |g - t*| <= d/2 (grid spacing d) has |x(g)| >= V - (pi B d)^2 / 2 M.
//  (2) On a grid of spacing d, M <= max|x(grid)| / cos(pi B d) (for B d < 1/2).
// The bound is computed in two stages:
//  - a 4x grid everywhere: x[k] and x(k + p/4), p = 1..3, by a long Kaiser-windowed sinc (kStage1
//    taps, by FFT); G = its largest |value|, M <= G / cos(pi / 8), and by (1) a local maximum V
//    can only exceed G - 0.0771 M... near a grid value >= V - 0.0771 M;
//  - every sample interval whose 4x values reach G - 0.0771 M (G and M as known so far, which only
//    grow) is refined to 64x by a short windowed sinc over the 4x grid (the 4x grid is 4 times
//    over-sampled, so 16 taps are exact to ~1e-7); by (1) at spacing 1/64 the peak there is at most
//    R / (1 - 3.0e-4), R the largest fine value.
// Intervals never refined hold no peak above the final G (their values stayed under the running
// threshold, which rises more slowly than G). The bound is max(G, R / (1 - 3.0e-4)): at most
// 0.0026 dB above the reconstruction's peak, plus the interpolators' error (stage 1: flat within
// 1e-4 to 0.49988 fs; content closer to fs/2 is read low by its attenuation there).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq::cpu {

class ReconstructionPeak {
 public:
  explicit ReconstructionPeak(int channels);
  ~ReconstructionPeak();
  ReconstructionPeak(const ReconstructionPeak&) = delete;
  ReconstructionPeak& operator=(const ReconstructionPeak&) = delete;

  // The next frames of the signal: audio's frames [begin, end).
  void add(const AudioBuffer& audio, int64_t begin, int64_t end, ThreadPool& pool);
  // The bound over the whole signal, zeros before and after it (linear; 0 for silence).
  double finish(ThreadPool& pool);

  // The most the bound can move per unit of largest sample change (the sum of |coefficient| of
  // its interpolators): a change of every sample by at most e moves it by at most e error_gain().
  static double error_gain();

  // Sample intervals refined to 64x so far (for tests and the report).
  int64_t refined_intervals() const;

  // Before the first add(): also list every interval [frame, frame + 1) of a channel whose bound
  // exceeds `level` (linear), with that bound; overs() returns them by frame.
  struct Over {
    int64_t frame;
    double peak;
  };
  void record_overs(double level);
  std::vector<Over> overs() const;

  // The overs of `level` among the intervals [k0, k1) of `audio` alone (its samples around them
  // read as they are, zeros outside it), by frame. With record_overs(level), every interval whose
  // peak can exceed `level` is refined, so an interval that is not an over peaks at or under
  // `level` (docs/algorithms.md "The reconstruction bound": after gain dips, only the intervals
  // whose samples within kReach changed need reading again).
  static std::vector<Over> overs_in(const AudioBuffer& audio, int64_t k0, int64_t k1, double level, ThreadPool& pool);
  // How far (in samples) a changed sample moves the bound's intervals: interval k reads samples
  // k - kReach .. k + kReach.
  static constexpr int64_t kReach = 16384 + 10;  // the stage-1 half-width and a few samples

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The bound of a whole buffer.
double reconstruction_peak(const AudioBuffer& audio, ThreadPool& pool);

}  // namespace lq::cpu
