// The math of the compressor and the limiter: pure functions, coefficient preparation and the two
// sequential recurrences in the form kernels/dsp/recurrence.hpp runs chunked (bit-identical to the
// plain loop for any chunk length).
//
// Compressor (Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor Design — A Tutorial
// and Analysis", JAES 60(6), 2012), feed-forward, smoothing in the gain domain (their fig. 7c):
//   level x_L = 20 log10 |x| (floor -200 dB) -> soft-knee static curve (eq. 4) -> gain reduction
//   x_L - y_G (dB, >= 0) -> branching attack/release one-pole (eq. 17) -> linear gain.
// Limiter (docs/algorithms.md "The limiter"): required gain from the BS.1770-4 Annex 2
// meter, sliding minima, instant attack / exponential release on the linear gain, box average.
#pragma once

#include "kernels/dsp/common.hpp"
#include "kernels/dsp/dynamics_params.hpp"

namespace lq::dsp {

// One-pole coefficient for time constant tau_s at rate fs: alpha = exp(-1 / (tau * fs)), so that
// y[n] = alpha y[n-1] + (1 - alpha) x follows a step to 1 - 1/e (63.2 %) after tau seconds.
LQ_HD double one_pole_alpha(double tau_s, double fs) { return ::exp(-1.0 / (tau_s * fs)); }

// Frames of a duration in ms at rate fs, rounded to nearest.
LQ_HD int64_t ms_to_frames(double ms, double fs) { return static_cast<int64_t>(::llround(ms * 1e-3 * fs)); }

// ---- compressor -------------------------------------------------------------------------------

inline constexpr float kLevelFloorDb = -200.0f;

// Level of a sample magnitude in dB, floored at -200 dB (|x| < 1e-10, digital silence included).
LQ_HD float level_db(float x) {
  const float a = x < 0.0f ? -x : x;
  return a < 1e-10f ? kLevelFloorDb : static_cast<float>(6.020599913279624 * log2_poly(double(a)));
}

// Detector level of one channel under partial stereo link: own and linked (the max over channels)
// levels blended in dB; link = 1 gives exactly `linked`, link = 0 exactly `own`.
LQ_HD float linked_level_db(float own_db, float linked_db, float link) {
  return link * linked_db + (1.0f - link) * own_db;
}

// Gain reduction x - y_G (dB, >= 0) of the static curve with threshold T, ratio R and knee width W,
// at input level x (Giannoulis 2012, eq. 4):
//   2(x - T) < -W      : y_G = x                            -> 0
//   2|x - T| <= W      : y_G = x + (1/R - 1)(x - T + W/2)^2 / (2W)
//   2(x - T) >  W      : y_G = T + (x - T)/R                -> (1 - 1/R)(x - T)
// Every piece is computed and one selected (no branches), so that sample loops vectorise.
LQ_HD float gain_reduction_db(float x_db, float threshold_db, float ratio, float knee_db) {
  const float over = x_db - threshold_db;
  const float slope = 1.0f - 1.0f / ratio;
  const float k = over + 0.5f * knee_db;
  const float in_knee = slope * k * k / (2.0f * (knee_db > 0.0f ? knee_db : 1.0f));
  const float above = over > 0.0f ? slope * over : 0.0f;
  const bool knee = 2.0f * over <= knee_db && knee_db > 0.0f;
  return 2.0f * over < -knee_db ? 0.0f : (knee ? in_knee : above);
}

// Everything the compressor's sample passes need, derived once in double
// (docs/architecture.md "Conventions").
struct CompressorCoefficients {
  float threshold_db;
  float ratio;
  float knee_db;
  float stereo_link;
  float alpha_attack;        // one_pole_alpha(attack_ms), used while the reduction rises
  float alpha_release;       // one_pole_alpha(release_ms), while it falls
  double makeup_db;          // params.makeup_db, or half the static curve's reduction at 0 dBFS
  int64_t lookahead_frames;  // the detector runs this many frames ahead of the output
  // Below this magnitude the static curve's reduction is exactly 0 (the level is under the knee by
  // a margin far beyond log10f's rounding), so executors may skip the logarithm: the same values.
  float quiet_magnitude;
};

LQ_HD CompressorCoefficients prepare_compressor(const CompressorParams& p, double fs) {
  CompressorCoefficients c;
  c.threshold_db = static_cast<float>(p.threshold_db);
  c.ratio = static_cast<float>(p.ratio);
  c.knee_db = static_cast<float>(p.knee_db);
  c.stereo_link = static_cast<float>(p.stereo_link);
  c.alpha_attack = static_cast<float>(one_pole_alpha(p.attack_ms * 1e-3, fs));
  c.alpha_release = static_cast<float>(one_pole_alpha(p.release_ms * 1e-3, fs));
  c.makeup_db =
      p.auto_makeup ? 0.5 * double(gain_reduction_db(0.0f, c.threshold_db, c.ratio, c.knee_db)) : p.makeup_db;
  c.lookahead_frames = ms_to_frames(p.lookahead_ms, fs);
  // 10^((T - W/2) / 20) lowered by 1e-4 (0.00087 dB): under it, 2 (x_db - T) < -W for any x_db that
  // level_db can return (its error is a few 1e-6 dB).
  c.quiet_magnitude = static_cast<float>(db_to_linear(double(c.threshold_db) - 0.5 * double(c.knee_db)) * (1.0 - 1e-4));
  return c;
}

// The static curve's reduction (dB) of each of `detectors` detectors at one frame, every executor's
// form: `peak` is the largest magnitude over the channels, magnitude(d) detector d's own (a sample
// or an RMS magnitude; its sign is ignored); put(d, reduction). Under quiet_magnitude every
// reduction is exactly 0, without a logarithm. One detector reads the linked level alone.
template <class Magnitude, class Put>
LQ_HD void curve_reductions(float peak, int detectors, const CompressorCoefficients& k, Magnitude magnitude, Put put) {
  if (peak < k.quiet_magnitude) {
    for (int d = 0; d < detectors; ++d) put(d, 0.0f);
    return;
  }
  const float linked = level_db(peak);
  for (int d = 0; d < detectors; ++d) {
    const float level = detectors == 1 ? linked : linked_level_db(level_db(magnitude(d)), linked, k.stereo_link);
    put(d, gain_reduction_db(level, k.threshold_db, k.ratio, k.knee_db));
  }
}

// Linear gain of a smoothed reduction gr (dB) with makeup (dB).
LQ_HD float compressor_gain(float gr_db, double makeup_db) {
  return static_cast<float>(exp2_poly((makeup_db - double(gr_db)) * 0.16609640474436813));  // 10^(x/20)
}

// The branching smoother on the gain reduction gr[] (dB, >= 0), Giannoulis 2012 eq. 17:
//   y[n] = a y[n-1] + (1 - a) gr[n],  a = alpha_attack if gr[n] > y[n-1] else alpha_release,
// y[-1] = 0. States below 1e-6 dB snap to exactly 0 so that trajectories started from different
// guesses meet bit for bit once the signal falls below the knee.
struct GainSmoother {
  using Value = float;
  static constexpr int order = 1;
  const float* gr;
  float alpha_attack;
  float alpha_release;

  LQ_HD float step(const float* prev, int64_t i) const {
    const float x = gr[i];
    const float a = x > prev[0] ? alpha_attack : alpha_release;
    const float v = a * prev[0] + (1.0f - a) * x;
    return v < 1e-6f ? 0.0f : v;
  }
  LQ_HD void guess(float* prev, int64_t start) const { prev[0] = start == 0 ? 0.0f : gr[start]; }
};

// The compressor's statistics over a block of smoothed reductions: the largest, and the sum in 8
// lanes by absolute frame index mod 8 (each lane in index order), combined pairwise at the end. The
// order of additions is fixed by the frame indices alone, so a block split between spans, any
// thread count and either backend give the same bits; and the 8 chains run side by side where one
// in-order chain waits on every addition's latency.
struct ReductionStats {
  static constexpr int kLanes = 8;
  double max = 0.0;
  double lane[kLanes] = {};

  // v[i] is frame `first_frame + i`, i in [0, n).
  LQ_HD void add(const float* v, int64_t first_frame, int64_t n) {
    int64_t i = 0;
    for (; i < n && (first_frame + i) % kLanes != 0; ++i) add_one(int((first_frame + i) % kLanes), v[i]);
    double l[kLanes], m[kLanes];
    for (int k = 0; k < kLanes; ++k) {
      l[k] = lane[k];
      m[k] = max;
    }
    for (; i + kLanes <= n; i += kLanes) {
      for (int k = 0; k < kLanes; ++k) {
        const double x = double(v[i + k]);
        l[k] += x;
        m[k] = x > m[k] ? x : m[k];  // this form vectorises (maxpd); the same value as max
      }
    }
    for (int k = 0; k < kLanes; ++k) {
      lane[k] = l[k];
      max = max < m[k] ? m[k] : max;
    }
    for (; i < n; ++i) add_one(int((first_frame + i) % kLanes), v[i]);
  }
  LQ_HD double sum() const {
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  }

 private:
  LQ_HD void add_one(int k, float v) {
    const double x = double(v);
    lane[k] += x;
    max = max < x ? x : max;
  }
};

// ---- limiter ------------------------------------------------------------------------------------

// The limiter's pass loop, the same on every backend (kernels/cpu/limiter.cpp gives the algorithm):
// pass k runs at target ceiling kLimiterMargin^k until no reading is over, at most
// kLimiterMaxPasses times; the hard safety then scales the regions still over kLimiterRegionRounds
// times, then the whole signal (which meets the ceiling: a reading still over is an internal error).
inline constexpr int kLimiterMaxPasses = 4;
inline constexpr int kLimiterRegionRounds = 4;
inline constexpr double kLimiterMargin = 1.0 - 1e-6;
// Frames per block of the statistics' sums (their order): the limiter's and the compressor's.
inline constexpr int64_t kLimiterStatsBlock = int64_t{1} << 15;
inline constexpr int64_t kCompressorStatsBlock = int64_t{1} << 16;

struct LimiterCoefficients {
  double ceiling;            // linear: db_to_linear(ceiling_dbtp); the meter never reads above it
  int64_t lookahead_frames;  // W >= 1
  double alpha_release;      // one_pole_alpha(release_ms)
};

LQ_HD LimiterCoefficients prepare_limiter(const LimiterParams& p, double fs) {
  LimiterCoefficients c;
  c.ceiling = db_to_linear(p.ceiling_dbtp);
  const int64_t w = ms_to_frames(p.lookahead_ms, fs);
  c.lookahead_frames = w < 1 ? 1 : w;
  c.alpha_release = one_pole_alpha(p.release_ms * 1e-3, fs);
  return c;
}

// The gain a limiter pass asks of a true-peak reading `peak` (linear): a reading over `ceiling` is
// brought to the pass's `target` (<= ceiling, a little under it); a reading at or under the ceiling
// asks for nothing, so a signal already under it keeps its bits.
LQ_HD double required_gain(double peak, double ceiling, double target) { return peak > ceiling ? target / peak : 1.0; }

// The limiter's release on the look-ahead minimum h[] (linear, in (0, 1]): instant attack,
// exponential release with alpha = one_pole_alpha(release):
//   g[n] = min(h[n], g[n-1] + (1 - alpha)(h[n] - g[n-1])),  g[-1] = 1,
// so g <= h everywhere. Values above 1 - 1e-6 snap to exactly 1 where h = 1, so released
// trajectories meet (and the gain is exactly unity again after a loud passage).
struct LimiterRelease {
  using Value = double;
  static constexpr int order = 1;
  const double* h;
  double alpha_release;

  LQ_HD double step(const double* prev, int64_t i) const {
    const double target = h[i];
    double v = prev[0] + (1.0 - alpha_release) * (target - prev[0]);
    v = target < v ? target : v;
    return (v > 1.0 - 1e-6 && target >= 1.0) ? 1.0 : v;
  }
  LQ_HD void guess(double* prev, int64_t start) const { prev[0] = start == 0 ? 1.0 : h[start]; }
};

// The box average over the look-ahead sums gains in fixed point, so that the sum is exact and
// any split into blocks (CPU threads, GPU tiles) gives the same bits: a gain g in [0, 1] becomes
// floor(g 2^b) with b = 52 - bit_width(W), so a sum of W of them stays below 2^52 (exact in a
// double too). Rounding down keeps the average <= the average of the gains.
LQ_HD double box_scale(int64_t width) {  // 2^b
  int bits = 0;
  while (width >> bits) ++bits;
  double scale = 1.0;
  for (int i = 0; i < 52 - bits; ++i) scale *= 2.0;
  return scale;
}
LQ_HD int64_t gain_to_fixed(double g, double scale) { return static_cast<int64_t>(::floor(g * scale)); }
LQ_HD double fixed_mean_to_gain(int64_t sum, int64_t width, double scale) {
  return double(sum) / double(width) / scale;
}

// The GPU's per-output forms of the limiter's window passes (kernels/cuda/dynamics.cu: one thread
// per output reads its whole window). Both are exact, so they equal the CPU's blocked minimum and
// running fixed-point sum bit for bit (tests/dsp/limiter_test.cpp).
// min(1, in[i .. i + w - 1]) with in[j] = 1 for j >= in_n: for gains (<= 1) the window's minimum.
LQ_HD double window_min_at(const double* in, int64_t in_n, int64_t w, int64_t i) {
  double m = 1.0;
  const int64_t e = i + w < in_n ? i + w : in_n;
  for (int64_t j = i; j < e; ++j) m = in[j] < m ? in[j] : m;
  return m;
}

// min(cap, fixed-point mean of g[m - w + 1 .. m]) with g = 1 before 0 (the limiter's box average).
LQ_HD double box_average_at(const double* g, int64_t w, double scale, double cap, int64_t m) {
  const int64_t unity = gain_to_fixed(1.0, scale);
  int64_t sum = 0;
  for (int64_t j = m - w + 1; j <= m; ++j) sum += j < 0 ? unity : gain_to_fixed(g[j], scale);
  const double mean = fixed_mean_to_gain(sum, w, scale);
  return mean < cap ? mean : cap;
}

}  // namespace lq::dsp
