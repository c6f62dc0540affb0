// True-peak interpolation, ITU-R BS.1770-4 Annex 2: 4x over-sampling with the published
// 48-tap, 4-phase FIR (12 taps per phase). Used by the meter (report figures) and the limiter
// (its detector and its verify step), so that the ceiling is guaranteed as the meter reads it.
//
// Output of phase p at input position n: y_p[n] = sum_{t=0..11} kTruePeakTaps[p][t] * x[n-t].
// The phases' group delays are 5.875, 5.625, 5.375, 5.125 samples: none coincides with an input
// sample, so a true-peak reading is max(sample peak, interpolated peak) (docs/algorithms.md "True peak").
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

// ---- the limiter's other readings: four 4x sincs -------------------------------------------------
// Annex 2's 48-tap filter droops towards Nyquist (-1.3 dB at 0.45 fs, -6 dB at fs/2), so on content
// up there it under-reads the peaks of the reconstructed signal: on the standard workload (hats with
// -29 dB of the energy above 21.6 kHz) a master held at -1.000 dBTP by Annex 2 read -0.7 dBTP on
// ffmpeg's ebur128 and -0.79 on a 4x windowed sinc of 64 samples a side. And interpolators disagree
// there, so each meter a master meets has to be among the readings:
// - ffmpeg's `ebur128=peak=true` upsamples with libswresample, whose filter when upsampling is a
//   Kaiser-windowed sinc (16 samples a side, beta 9) with its cutoff at the input's fs/2 (the 0.97
//   cutoff applies only to a downsampling ratio) and every phase scaled by one factor (the window's
//   peak), not to unit DC gain: the standard master held on a unit-DC, 0.97-cutoff model of it read
//   -0.993 dBTP on ffmpeg at a -1 dBTP ceiling;
// - libebur128 (the loudness scanners built on it, many plug-ins) interpolates with a 49-tap
//   Hann-windowed sinc, 4x under 96 kHz and 2x from 96 to 192 kHz, whose phases are not scaled to
//   unit DC gain either: on broadband noise it reads up to 0.19 dB above the band-limited signal.
// The limiter therefore holds its ceiling on the largest of these readings per position: Annex 2
// (the compliance meter, which the report gives), a long Kaiser-windowed sinc (64 input samples a
// side, beta 9, cutoff fs/2, unit DC: within 0.02 dB of ideal band-limited interpolation to
// 0.48 fs), the libswresample-like one (16 a side, beta 9, cutoff fs/2, raw taps), and two
// Hann-windowed sincs with cutoff fs/2 and raw taps, 6 and 12 samples a side (libebur128's 4x and
// 2x; both read at every rate: the set does not depend on the rate). Each is built here from its
// formula, not copied; tests/dsp/true_peak_test.cpp checks the Hann ones against libebur128 itself.
// benchmarks/interpolator_peaks.py measures a master on these and other interpolators. Each is 4x:
// phases p = 1, 2, 3 interpolate at x[n - H + p / 4] from x[n - 2H + 1 .. n] for half-width H
// (phase 0 is the sample itself, which Annex 2's reading already includes).
enum class Window { kaiser, hann };
struct SincFilter {
  int half_width;  // H: input samples each side; 2 H taps per phase
  double beta;     // Kaiser window (unused for Hann)
  double cutoff;   // as a fraction of fs/2
  Window window = Window::kaiser;
  bool unit_dc = true;  // each phase scaled to unit DC gain (false: the raw windowed sinc)
};
inline constexpr int kSincPhases = 3;
inline constexpr int kSincFilterCount = 4;
LQ_HD constexpr SincFilter sinc_filter(int f) {
  return f == 0   ? SincFilter{64, 9.0, 1.0}
         : f == 1 ? SincFilter{16, 9.0, 1.0, Window::kaiser, false}
         : f == 2 ? SincFilter{6, 0.0, 1.0, Window::hann, false}
                  : SincFilter{12, 0.0, 1.0, Window::hann, false};
}
inline constexpr int kSincMaxTaps = 128;  // 2 H of the longest
// Sample m feeds the limiter's readings m .. m + kLimiterSupport - 1 (every filter's among them).
inline constexpr int kLimiterSupport = kSincMaxTaps;

// I0, the modified Bessel function of the first kind, order 0, by its power series (x <= 20).
LQ_HD double bessel_i0(double x) {
  const double q = 0.25 * x * x;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < 60; ++k) {
    term *= q / (double(k) * double(k));
    sum += term;
  }
  return sum;
}

// Tap t (0 .. 2H - 1) of phase p (1 .. 3) of filter f before the unit-DC scaling:
// c sinc(c u) w(u / H), u = H - t - p / 4, c the cutoff, w the Kaiser window or the Hann window
// (1 + cos(pi u / H)) / 2.
LQ_HD double sinc_tap_unscaled(const SincFilter& f, int p, int t) {
  constexpr double kPi = 3.14159265358979323846;
  const double u = double(f.half_width - t) - 0.25 * double(p);
  const double r = u / double(f.half_width);
  const double w = f.window == Window::hann
                       ? 0.5 * (1.0 + ::cos(kPi * r))
                       : bessel_i0(f.beta * ::sqrt(r * r < 1.0 ? 1.0 - r * r : 0.0)) / bessel_i0(f.beta);
  const double x = kPi * f.cutoff * u;
  return f.cutoff * ::sin(x) / x * w;
}

// The taps both backends use: h[f][p][t] for t < 2 H of filter f (0 beyond), each phase of
// sinc_tap_unscaled divided by its sum (summed in tap order, in double) where the filter asks for
// unit DC gain, rounded to float.
LQ_HD void sinc_taps(float (&h)[kSincFilterCount][kSincPhases][kSincMaxTaps]) {
  for (int f = 0; f < kSincFilterCount; ++f) {
    const SincFilter filter = sinc_filter(f);
    const int taps = 2 * filter.half_width;
    for (int p = 0; p < kSincPhases; ++p) {
      double sum = 0.0;
      for (int t = 0; t < taps; ++t) sum += sinc_tap_unscaled(filter, p + 1, t);
      if (!filter.unit_dc) sum = 1.0;
      for (int t = 0; t < kSincMaxTaps; ++t) {
        h[f][p][t] = t < taps ? static_cast<float>(sinc_tap_unscaled(filter, p + 1, t) / sum) : 0.0f;
      }
    }
  }
}

}  // namespace lq::dsp
