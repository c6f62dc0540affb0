// True-peak interpolation, ITU-R BS.1770-4 Annex 2: 4x over-sampling with the published
// 48-tap, 4-phase FIR (12 taps per phase). Used by the meter (report figures) and the limiter
// (its detector and its verify step), so that the ceiling is guaranteed as the meter reads it.
//
// Output of phase p at input position n: y_p[n] = sum_{t=0..11} kTruePeakTaps[p][t] * x[n-t].
// The phases' group delays are 5.875, 5.625, 5.375, 5.125 samples: none coincides with an input
// sample, so a true-peak reading is max(sample peak, interpolated peak) (verification.md 2.5).
// The same normalised filter is used at every sample rate: 4x everywhere (at 96 kHz 2x would
// miss EBU Tech 3341 cases 21 and 23).
#pragma once

#include "kernels/dsp/common.hpp"

namespace lq::dsp {

inline constexpr int kTruePeakPhases = 4;
inline constexpr int kTruePeakTapsPerPhase = 12;

// BS.1770-4 Annex 2, Table 1 (phase-major). The host reads kTruePeakTaps; device code reads a copy
// in constant memory (one per translation unit), through true_peak_taps().
#define LQ_TRUE_PEAK_TAPS { \
    {0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875, \
     0.1373291015625, 0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250, \
     0.0148925781250, -0.0083007812500}, \
    {-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500, \
     0.4650878906250, 0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625, \
     0.0330810546875, -0.0189208984375}, \
    {-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125, \
     0.7797851562500, 0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000, \
     0.0292968750000, -0.0291748046875}, \
    {-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750, \
     0.9721679687500, 0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125, \
     0.0109863281250, 0.0017089843750}, \
}

inline constexpr double kTruePeakTaps[kTruePeakPhases][kTruePeakTapsPerPhase] = LQ_TRUE_PEAK_TAPS;
#if defined(__CUDACC__)
static __constant__ const double kTruePeakTapsDevice[kTruePeakPhases][kTruePeakTapsPerPhase] = LQ_TRUE_PEAK_TAPS;
#endif

LQ_HD const double (*true_peak_taps())[kTruePeakTapsPerPhase] {
#if defined(__CUDA_ARCH__)
  return kTruePeakTapsDevice;
#else
  return kTruePeakTaps;
#endif
}

// Largest |y_p[n]| over the four phases, given w[t] = x[n - t] for t = 0..11.
// Summation in double, in tap order.
LQ_HD double interpolated_peak(const float* w) {
  const double (*taps)[kTruePeakTapsPerPhase] = true_peak_taps();
  double peak = 0.0;
  for (int p = 0; p < kTruePeakPhases; ++p) {
    double acc = 0.0;
    for (int t = 0; t < kTruePeakTapsPerPhase; ++t) acc += taps[p][t] * double(w[t]);
    const double a = acc < 0.0 ? -acc : acc;
    peak = peak < a ? a : peak;
  }
  return peak;
}

// max(|x[n]|, interpolated peak at n) for 0 <= n < len + 11, with x taken as 0 outside [0, len):
// positions len .. len+10 hold the interpolated tail after the last sample.
LQ_HD double true_peak_at(const float* x, int64_t len, int64_t n) {
  float w[kTruePeakTapsPerPhase];
  for (int t = 0; t < kTruePeakTapsPerPhase; ++t) {
    const int64_t i = n - t;
    w[t] = (i >= 0 && i < len) ? x[i] : 0.0f;
  }
  const double s = (n < len) ? double(x[n] < 0.0f ? -x[n] : x[n]) : 0.0;
  const double ip = interpolated_peak(w);
  return s < ip ? ip : s;
}

// The CPU's vectorised scan over a range of positions, bit-identical to true_peak_at, is
// kernels/cpu/true_peak_range.hpp.

}  // namespace lq::dsp
