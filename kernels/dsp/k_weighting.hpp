// K-weighting, ITU-R BS.1770-4 Annex 1: a high-shelf pre-filter (stage 1) then the RLB high-pass
// (stage 2), both biquads y = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2) x.
//
// Coefficients for any sample rate come from the analog prototypes by the bilinear transform with
// libebur128's constants (ebur128_init_filter; docs/algorithms.md "K-weighting"); at 48 kHz they reproduce
// BS.1770's Tables 1 and 2 to all printed digits. Table 2's numerator is [1, -2, 1], not divided by
// the bilinear a0 = 1 + K/Q + K^2, which leaves stage 2 with a pass-band gain of a0(48 kHz)
// (+0.043 dB). BS.1770 asks other rates for "the same frequency response that the specified filter
// provides at 48 kHz", so stage 2's numerator here is [1, -2, 1] * a0(48 kHz) / a0(fs): exactly
// [1, -2, 1] at 48 kHz, and the same +0.043 dB at every rate. (libebur128 keeps [1, -2, 1] at every
// rate, so its readings differ from ours by 20*log10(a0(fs) / a0(48 kHz)): -0.022 dB at 96 kHz,
// -0.032 dB at 192 kHz, +0.004 dB at 44.1 kHz.)
//
// The filters are direct-form-I order-2 output recurrences (kernels/dsp/recurrence.hpp) with
// float64 state: BiquadRecurrence runs through run_chunked bit-identical to the sequential loop.
// Outputs with |y| < kKWeightingSnap are snapped to 0: a decayed state becomes exactly 0 in
// silence (no denormals, no zero-input limit cycles), so that trajectories started from different
// states meet bit for bit there. The snapped energy is below 1e-40 (-400 dB), far under the
// -70 LUFS gate. Chunking pays for stage 1 only; kernels/cpu/loudness.hpp says why not stage 2.
#pragma once

#include "kernels/dsp/common.hpp"

namespace lq::dsp {

struct BiquadCoefficients {
  double b0 = 1.0, b1 = 0.0, b2 = 0.0, a1 = 0.0, a2 = 0.0;
};

struct KWeightingCoefficients {
  BiquadCoefficients shelf;     // stage 1, BS.1770-4 Table 1 at 48 kHz
  BiquadCoefficients highpass;  // stage 2, BS.1770-4 Table 2 at 48 kHz
};

inline constexpr double kKWeightingSnap = 1e-20;

inline constexpr double kKWeightingHighpassF0 = 38.13547087602444;  // Hz
inline constexpr double kKWeightingHighpassQ = 0.5003270373238773;

// Pre-warped K = tan(pi f0 / fs) of the stage-2 high-pass.
LQ_HD double k_weighting_highpass_k(double sample_rate_hz) {
  return ::tan(3.14159265358979323846 * kKWeightingHighpassF0 / sample_rate_hz);
}

// Bilinear transform of the analog prototypes (libebur128 ebur128_init_filter), sample_rate_hz > 0.
LQ_HD KWeightingCoefficients k_weighting_coefficients(double sample_rate_hz) {
  constexpr double kPi = 3.14159265358979323846;
  KWeightingCoefficients k;
  {
    const double f0 = 1681.974450955533;  // Hz
    const double gain_db = 3.999843853973347;
    const double q = 0.7071752369554196;
    const double kk = ::tan(kPi * f0 / sample_rate_hz);
    const double vh = ::pow(10.0, gain_db / 20.0);
    const double vb = ::pow(vh, 0.4996667741545416);
    const double a0 = 1.0 + kk / q + kk * kk;
    k.shelf.b0 = (vh + vb * kk / q + kk * kk) / a0;
    k.shelf.b1 = 2.0 * (kk * kk - vh) / a0;
    k.shelf.b2 = (vh - vb * kk / q + kk * kk) / a0;
    k.shelf.a1 = 2.0 * (kk * kk - 1.0) / a0;
    k.shelf.a2 = (1.0 - kk / q + kk * kk) / a0;
  }
  {
    const double kk = k_weighting_highpass_k(sample_rate_hz);
    const double q = kKWeightingHighpassQ;
    const double a0 = 1.0 + kk / q + kk * kk;
    const double kk48 = k_weighting_highpass_k(48000.0);
    const double g = (1.0 + kk48 / q + kk48 * kk48) / a0;  // exactly 1 at 48 kHz
    k.highpass.b0 = g;
    k.highpass.b1 = -2.0 * g;
    k.highpass.b2 = g;
    k.highpass.a1 = 2.0 * (kk * kk - 1.0) / a0;
    k.highpass.a2 = (1.0 - kk / q + kk * kk) / a0;
  }
  return k;
}

// |H(e^{j 2 pi f / fs})| of one biquad (linear).
LQ_HD double biquad_magnitude(const BiquadCoefficients& c, double f_hz, double sample_rate_hz) {
  constexpr double kPi = 3.14159265358979323846;
  const double w = 2.0 * kPi * f_hz / sample_rate_hz;
  const double c1 = ::cos(w), s1 = ::sin(w), c2 = ::cos(2.0 * w), s2 = ::sin(2.0 * w);
  const double nr = c.b0 + c.b1 * c1 + c.b2 * c2, ni = -(c.b1 * s1 + c.b2 * s2);
  const double dr = 1.0 + c.a1 * c1 + c.a2 * c2, di = -(c.a1 * s1 + c.a2 * s2);
  return ::sqrt((nr * nr + ni * ni) / (dr * dr + di * di));
}

// One direct-form-I step. The feedback terms come last, y[n-1] last of all, so that the
// loop-carried dependency is one multiply and one subtraction.
LQ_HD double biquad_df1_step(const BiquadCoefficients& c, double x0, double x1, double x2, double y1,
                             double y2) {
  const double v = c.b0 * x0 + c.b1 * x1 + c.b2 * x2 - c.a2 * y2 - c.a1 * y1;
  return ::fabs(v) < kKWeightingSnap ? 0.0 : v;
}

// A biquad over a fixed input as an order-2 output recurrence (kernels/dsp/recurrence.hpp):
// y[i] for 0 <= i < n over x[i]; In is float (stage 1, the audio) or double (stage 2, stage 1's
// output). x[-1] and x[-2] are read only when `history` says they exist (0, 1 or 2 samples before
// x[0]); missing ones are 0. y_init holds the true state {y[-1], y[-2]} at i = 0, so a long signal
// can be run window by window. Speculated chunks start from zero state.
template <class In>
struct BiquadRecurrence {
  using Value = double;
  static constexpr int order = 2;

  const In* x = nullptr;
  int64_t history = 0;
  BiquadCoefficients c;
  double y_init[2] = {0.0, 0.0};

  LQ_HD double step(const double* prev, int64_t i) const {
    const double x1 = i - 1 >= -history ? double(x[i - 1]) : 0.0;
    const double x2 = i - 2 >= -history ? double(x[i - 2]) : 0.0;
    return biquad_df1_step(c, double(x[i]), x1, x2, prev[0], prev[1]);
  }
  LQ_HD void guess(double* prev, int64_t start) const {
    prev[0] = start == 0 ? y_init[0] : 0.0;
    prev[1] = start == 0 ? y_init[1] : 0.0;
  }
};

}  // namespace lq::dsp
