// The math of the compressor and the limiter: pure functions and the two sequential
// recurrences, in the form kernels/dsp/recurrence.hpp runs chunked (bit-identical to the plain
// loop for any chunk length).
//
// Compressor (Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor Design — A
// Tutorial and Analysis", JAES 60(6), 2012): level in dB -> soft-knee static curve (eq. 4) ->
// gain reduction in dB -> branching attack/release one-pole smoother (eq. 17, "smooth branching
// peak detector" applied to the gain) -> linear gain.
// Limiter: instant attack, exponential release on a linear gain (DESIGN.md "Limiter").
#pragma once

#include "kernels/dsp/common.hpp"

namespace lq::dsp {

// One-pole coefficient for time constant tau_s at rate fs: alpha = exp(-1 / (tau * fs)), so
// that a step is followed to 1 - 1/e (63.2%) after tau seconds.
inline double one_pole_alpha(double tau_s, double fs) { return ::exp(-1.0 / (tau_s * fs)); }

// Level of a sample in dB, floored at -200 dB (|x| < 1e-10).
LQ_HD float level_db(float x) {
  const float a = x < 0.0f ? -x : x;
  return a < 1e-10f ? -200.0f : 20.0f * ::log10f(a);
}

// Static curve of a compressor with threshold T, ratio R and knee width W (all dB):
// gain reduction (>= 0 dB) at input level x_db (Giannoulis 2012, eq. 4):
//   2(x - T) < -W      : 0
//   2|x - T| <= W      : (1 - 1/R) (x - T + W/2)^2 / (2W)
//   2(x - T) >  W      : (1 - 1/R) (x - T)
LQ_HD float gain_reduction_db(float x_db, float threshold_db, float ratio, float knee_db) {
  const float over = x_db - threshold_db;
  const float slope = 1.0f - 1.0f / ratio;
  if (2.0f * over < -knee_db) return 0.0f;
  if (2.0f * over <= knee_db && knee_db > 0.0f) {
    const float k = over + 0.5f * knee_db;
    return slope * k * k / (2.0f * knee_db);
  }
  return over > 0.0f ? slope * over : 0.0f;
}

// The compressor's smoother on the gain reduction gr[] (dB, >= 0): attack when the reduction
// rises, release when it falls; states below 1e-6 dB snap to exactly 0 so that trajectories
// started from different guesses meet bit for bit in silence.
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

// The limiter's release on the required gain h[] (linear, in (0, 1]): instant attack
// (g = h when h is below the released value), exponential release toward h otherwise:
//   g[n] = min(h[n], g[n-1] + (1 - alpha) (h[n] - g[n-1])),  g[-1] = 1.
// Values within 1e-9 of unity snap to 1 where h allows, so released trajectories meet.
struct LimiterRelease {
  using Value = double;
  static constexpr int order = 1;
  const double* h;
  double alpha_release;

  LQ_HD double step(const double* prev, int64_t i) const {
    const double target = h[i];
    double v = prev[0] + (1.0 - alpha_release) * (target - prev[0]);
    v = target < v ? target : v;
    return (v > 1.0 - 1e-9 && target >= 1.0) ? 1.0 : v;
  }
  LQ_HD void guess(double* prev, int64_t start) const { prev[0] = start == 0 ? 1.0 : h[start]; }
};

}  // namespace lq::dsp
