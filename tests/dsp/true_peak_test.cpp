// The vectorisable true-peak scan equals the per-position definition bit for bit, edges included.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/dsp/true_peak.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/true_peak_range.hpp"
#include "reference/dynamics_reference.hpp"
#include "support/expect_close.hpp"
#include "support/libebur128_meter.hpp"

TEST(TruePeakRange, EqualsTruePeakAtBitForBitOverEveryRange) {
  std::mt19937 rng(17);
  std::normal_distribution<float> g(0.0f, 0.5f);
  for (int64_t len : {int64_t(1), int64_t(5), int64_t(11), int64_t(12), int64_t(100), int64_t(1000)}) {
    std::vector<float> x(static_cast<size_t>(len));
    for (auto& v : x) v = g(rng);
    const int64_t positions = len + 11;
    for (int64_t begin : {int64_t(0), int64_t(3), int64_t(11), len / 2, len, positions - 1}) {
      for (int64_t end : {begin, begin + 1, begin + 70, positions}) {
        if (end < begin || end > positions) continue;
        std::vector<double> fast(static_cast<size_t>(end - begin)), slow(fast.size());
        lq::cpu::true_peak_range(x.data(), len, begin, end, fast.data());
        for (int64_t n = begin; n < end; ++n) slow[size_t(n - begin)] = lq::dsp::true_peak_at(x.data(), len, n);
        EXPECT_TRUE(lq::test::bit_equal(fast, slow)) << "len " << len << " [" << begin << ", " << end << ")";
      }
    }
  }
}

// The 4x sinc phases of each filter: unit DC gain where asked for, zeros past 2 H, and the symmetry
// of their construction (phase 3 is phase 1 reversed, phase 2 is its own reverse: sinc and window
// are even).
TEST(LimiterSinc, PhasesHaveUnitDcGainAndMirrorEachOther) {
  float h[lq::dsp::kSincFilterCount][lq::dsp::kSincPhases][lq::dsp::kSincMaxTaps];
  lq::dsp::sinc_taps(h);
  for (int f = 0; f < lq::dsp::kSincFilterCount; ++f) {
    const int T = 2 * lq::dsp::sinc_filter(f).half_width;
    for (int p = 0; p < lq::dsp::kSincPhases; ++p) {
      double sum = 0.0;
      for (int t = 0; t < T; ++t) sum += double(h[f][p][t]);
      if (lq::dsp::sinc_filter(f).unit_dc) {
        EXPECT_NEAR(sum, 1.0, 1e-6) << "filter " << f << " phase " << p + 1;
      } else {
        for (int t = 0; t < T; ++t) {  // raw taps: the windowed sinc itself
          EXPECT_EQ(h[f][p][t], static_cast<float>(lq::dsp::sinc_tap_unscaled(lq::dsp::sinc_filter(f), p + 1, t)));
        }
      }
      for (int t = T; t < lq::dsp::kSincMaxTaps; ++t) EXPECT_EQ(h[f][p][t], 0.0f);
    }
    for (int t = 0; t < T; ++t) {
      EXPECT_NEAR(h[f][2][t], h[f][0][T - 1 - t], 1e-7) << "filter " << f << " tap " << t;
      EXPECT_NEAR(h[f][1][t], h[f][1][T - 1 - t], 1e-7) << "filter " << f << " tap " << t;
    }
    EXPECT_GT(h[f][0][lq::dsp::sinc_filter(f).half_width], 0.85f);  // phase 1's nearest sample, x[n - H]
  }
}

// Against the analytic signal: for a sine at f (fraction of fs) and phase phi, the exact values at
// the 4x points are cos(2 pi f (n - H + p / 4) + phi). The long sinc's readings stay within
// 0.02 dB of them up to 0.48 fs, the short one's (cutoff 0.97) within 0.05 dB up to 0.4 fs; Annex
// 2's filter is off by more than 0.3 dB at 0.45 fs (why the limiter holds its ceiling on all three).
TEST(LimiterSinc, ReadsTheBandLimitedSignalWithinItsPassband) {
  constexpr double kPi = 3.14159265358979323846;
  float h[lq::dsp::kSincFilterCount][lq::dsp::kSincPhases][lq::dsp::kSincMaxTaps];
  lq::dsp::sinc_taps(h);
  const int64_t len = 4000;
  double worst[lq::dsp::kSincFilterCount] = {}, worst_annex = 0.0;
  const double passband[lq::dsp::kSincFilterCount] = {0.48, 0.4, 0.0, 0.0};  // the Hann ones: below
  for (double f : {0.01, 0.1, 0.2, 0.25, 0.3, 0.4, 0.45, 0.47, 0.48}) {
    for (double phi : {0.0, 0.4, 1.1, 2.0, 2.9}) {
      std::vector<float> x(static_cast<size_t>(len));
      for (int64_t i = 0; i < len; ++i) x[size_t(i)] = static_cast<float>(0.5 * std::cos(2 * kPi * f * double(i) + phi));
      for (int64_t n = 1000; n < 3000; ++n) {
        for (int k = 0; k < lq::dsp::kSincFilterCount; ++k) {
          if (f > passband[k]) continue;
          const int H = lq::dsp::sinc_filter(k).half_width;
          for (int p = 0; p < lq::dsp::kSincPhases; ++p) {
            double acc = 0.0;
            for (int t = 0; t < 2 * H; ++t) acc += double(h[k][p][t]) * double(x[size_t(n - t)]);
            const double exact = 0.5 * std::cos(2 * kPi * f * (double(n) - H + (p + 1) / 4.0) + phi);
            worst[k] = std::max(worst[k], std::fabs(acc - exact) / 0.5);
          }
        }
        for (int p = 0; p < lq::dsp::kTruePeakPhases; ++p) {  // group delays 5.875 - p / 4
          double acc = 0.0;
          for (int t = 0; t < lq::dsp::kTruePeakTapsPerPhase; ++t) acc += lq::dsp::kTruePeakTaps[p][t] * double(x[size_t(n - t)]);
          const double exact = 0.5 * std::cos(2 * kPi * f * (double(n) - 5.875 + 0.25 * p) + phi);
          if (f <= 0.45) worst_annex = std::max(worst_annex, std::fabs(acc - exact) / 0.5);
        }
      }
    }
  }
  EXPECT_LT(20.0 * std::log10(1.0 + worst[0]), 0.02);
  EXPECT_LT(20.0 * std::log10(1.0 + worst[1]), 0.05);
  EXPECT_GT(20.0 * std::log10(1.0 + worst_annex), 0.3);
}

// The CPU's detector (FFT convolution in float) against the float64 direct sum at every position,
// edges included, and the same bits on 1 and 2 threads.
TEST(LimiterSinc, FftDetectorEqualsTheDirectSumAndIsThreadIndependent) {
  std::mt19937 rng(41);
  std::normal_distribution<float> g(0.0f, 0.3f);
  for (int64_t len : {int64_t(5), int64_t(200), int64_t(70001)}) {
    lq::AudioBuffer a(2, len, 48000.0);
    for (auto& ch : a.channels) {
      for (auto& v : ch) v = g(rng);
    }
    a.channels[1][size_t(len / 2)] = 1.2f;
    lq::cpu::ThreadPool one(1), two(2);
    std::vector<double> p1, p2;
    const double m1 = lq::cpu::limiter_detector_profile(a, p1, one);
    const double m2 = lq::cpu::limiter_detector_profile(a, p2, two);
    ASSERT_EQ(p1.size(), size_t(len + lq::dsp::kLimiterSupport - 1));
    EXPECT_TRUE(lq::test::bit_equal(p1, p2)) << "len " << len;
    EXPECT_EQ(m1, m2);
    double worst = 0.0, mx = 0.0;
    for (int64_t n = 0; n < int64_t(p1.size()); ++n) {
      const double want = lq::test::limiter_detector_reading(a.channels, n);
      worst = std::max(worst, std::fabs(p1[size_t(n)] - want));
      mx = std::max(mx, want);
    }
    EXPECT_LT(worst, 2e-6 * mx) << "len " << len;
    EXPECT_EQ(m1, *std::max_element(p1.begin(), p1.end()));
    EXPECT_NEAR(m1, mx, 2e-6 * mx);
  }
}

// Stereo signals that part the interpolators: kind 0 noise flat to Nyquist, 1 noise near Nyquist
// (alternate signs on low-passed noise), 2 clipped bursts; `fade` frames faded in and out.
lq::test::DecodedFile parting_signal(int rate, int kind, int64_t n, int fade, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 0.3);
  lq::test::DecodedFile file;
  file.sample_rate = rate;
  file.channels.assign(2, std::vector<float>(size_t(n)));
  for (auto& c : file.channels) {
    double lp = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      lp = 0.8 * lp + 0.2 * g(rng);
      const double f = fade ? std::min({1.0, double(i) / fade, double(n - 1 - i) / fade}) : 1.0;
      const double v = kind == 0 ? g(rng) : kind == 1 ? (i % 2 ? -2.0 : 2.0) * lp : std::clamp(3.0 * g(rng), -0.9, 0.9);
      c[size_t(i)] = static_cast<float>(v * f);
    }
  }
  return file;
}

// The two Hann-windowed sincs read what libebur128 (an implementation we did not write) reads:
// under 96 kHz its 4x interpolator equals filter 2's phases, from 96 to 192 kHz its 2x one equals
// filter 3's middle phase (with the sample peak beside them, as libebur128 reports). Signals that
// part the interpolators: noise flat to Nyquist, noise near Nyquist, clipped bursts. And the
// limiter's detector reads at least as high at every rate.
TEST(LimiterSinc, HannFiltersReadWhatLibebur128Reads) {
  float h[lq::dsp::kSincFilterCount][lq::dsp::kSincPhases][lq::dsp::kSincMaxTaps];
  lq::dsp::sinc_taps(h);
  std::mt19937 rng(7);
  for (const int rate : {44100, 48000, 96000, 176400}) {
    for (int kind = 0; kind < 3; ++kind) {
      const int64_t n = 20000;
      const lq::test::DecodedFile file = parting_signal(rate, kind, n, /*fade=*/0, rng);
      const int f = rate < 96000 ? 2 : 3;
      const int H = lq::dsp::sinc_filter(f).half_width;
      double ours = 0.0;
      for (const auto& c : file.channels) {
        for (int64_t i = 0; i < n; ++i) {
          ours = std::max(ours, std::fabs(double(c[size_t(i)])));
          for (int p = 0; p < lq::dsp::kSincPhases; ++p) {
            if (f == 3 && p != 1) continue;  // 2x: the middle phase only
            double acc = 0.0;
            for (int t = 0; t < 2 * H && t <= i; ++t) acc += double(h[f][p][t]) * double(c[size_t(i - t)]);
            ours = std::max(ours, std::fabs(acc));
          }
        }
      }
      const double theirs = lq::test::libebur128_true_peak(file);
      EXPECT_NEAR(ours / theirs, 1.0, 2e-6) << rate << " Hz, kind " << kind;
      lq::AudioBuffer a(2, n, rate);
      a.channels = file.channels;
      lq::cpu::ThreadPool pool(2);
      std::vector<double> profile;
      EXPECT_GE(lq::cpu::limiter_detector_profile(a, profile, pool), theirs * (1.0 - 2e-6)) << rate << " Hz, kind " << kind;
    }
  }
}

// Filter 1 reads what ffmpeg's `ebur128=peak=true` reads at 48 kHz, where it upsamples 4x with
// libswresample (an implementation we did not write, called here as ffmpeg configures it): noise
// flat to Nyquist, noise near Nyquist, clipped bursts. At 96 kHz libswresample upsamples 2x and
// the middle phase is among filter 1's.
TEST(LimiterSinc, Filter1ReadsWhatLibswresampleUpsamplingReads) {
  float h[lq::dsp::kSincFilterCount][lq::dsp::kSincPhases][lq::dsp::kSincMaxTaps];
  lq::dsp::sinc_taps(h);
  std::mt19937 rng(11);
  for (const int rate : {48000, 96000}) {
    for (int kind = 0; kind < 3; ++kind) {
      const int64_t n = 20000;
      const lq::test::DecodedFile file = parting_signal(rate, kind, n, /*fade=*/500, rng);
      const int H = lq::dsp::sinc_filter(1).half_width;
      double ours = 0.0;
      for (const auto& c : file.channels) {
        for (int64_t i = 0; i < n + 2 * H; ++i) {
          if (i < n) ours = std::max(ours, std::fabs(double(c[size_t(i)])));
          for (int p = 0; p < lq::dsp::kSincPhases; ++p) {
            if (rate == 96000 && p != 1) continue;  // 2x: the middle phase only
            double acc = 0.0;
            for (int t = 0; t < 2 * H; ++t) {
              if (i - t >= 0 && i - t < n) acc += double(h[1][p][t]) * double(c[size_t(i - t)]);
            }
            ours = std::max(ours, std::fabs(acc));
          }
        }
      }
      const double theirs = lq::test::libswresample_true_peak(file);
      EXPECT_NEAR(ours / theirs, 1.0, 2e-6) << rate << " Hz, kind " << kind;
    }
  }
}

// The BS.1770-4 Annex 2 table as published: phase 3 is phase 0 reversed and phase 2 phase 1
// reversed (the filter is linear-phase, so a mistyped tap breaks the mirror), and every phase
// passes DC at 0.973 to 1.0016 (the published filter is not scaled to unit DC gain).
TEST(TruePeakTaps, Annex2PhasesMirrorEachOtherAndPassDc) {
  constexpr int T = lq::dsp::kTruePeakTapsPerPhase;
  for (int t = 0; t < T; ++t) {
    EXPECT_EQ(lq::dsp::kTruePeakTaps[3][t], lq::dsp::kTruePeakTaps[0][T - 1 - t]) << "tap " << t;
    EXPECT_EQ(lq::dsp::kTruePeakTaps[2][t], lq::dsp::kTruePeakTaps[1][T - 1 - t]) << "tap " << t;
  }
  for (int p = 0; p < lq::dsp::kTruePeakPhases; ++p) {
    double sum = 0.0;
    for (int t = 0; t < T; ++t) sum += lq::dsp::kTruePeakTaps[p][t];
    EXPECT_GT(sum, 0.97) << "phase " << p;
    EXPECT_LT(sum, 1.002) << "phase " << p;
  }
}
