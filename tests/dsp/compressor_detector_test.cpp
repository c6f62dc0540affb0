// What the compressor's static curve reads: the peak detector the per-sample magnitude, the RMS
// detector the RMS over rms_ms. Both curves on sines and squares within 0.1 dB of the analytic
// reduction at the level each defines; the RMS detector the same bits in any spans and threads.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "kernels/cpu/dynamics.hpp"
#include "kernels/dsp/dynamics.hpp"

namespace {

constexpr double kFs = 48000.0;

// 2 s of a 1 kHz sine or square of amplitude a, both channels.
lq::AudioBuffer tone(bool square, double a) {
  lq::AudioBuffer b(2, int64_t(2 * kFs), kFs);
  for (int64_t i = 0; i < b.frames(); ++i) {
    const double s = std::sin(2.0 * std::numbers::pi * 1000.0 * (double(i) + 0.25) / kFs);
    const auto v = static_cast<float>(square ? (s >= 0.0 ? a : -a) : a * s);
    for (auto& ch : b.channels) ch[size_t(i)] = v;
  }
  return b;
}

// The gain applied over the last half second (the reduction has settled), in dB.
double settled_gain_db(const lq::AudioBuffer& in, const lq::AudioBuffer& out) {
  double num = 0.0, den = 0.0;
  for (int64_t i = in.frames() - int64_t(kFs / 2); i < in.frames(); ++i) {
    num += std::fabs(double(out.channels[0][size_t(i)]));
    den += std::fabs(double(in.channels[0][size_t(i)]));
  }
  return 20.0 * std::log10(num / den);
}

// The static curve without a knee: (1/R - 1)(level - T) over the threshold.
double expected_db(double level_db, double threshold_db, double ratio) {
  return level_db > threshold_db ? (1.0 / ratio - 1.0) * (level_db - threshold_db) : 0.0;
}

struct Case {
  bool square;
  bool rms;
};

TEST(CompressorDetector, StaticCurvesOfThePeakAndRmsDetectorsOnSinesAndSquares) {
  const double a = 0.5, threshold = -20.0, ratio = 4.0;
  for (const Case c : {Case{false, false}, Case{true, false}, Case{false, true}, Case{true, true}}) {
    lq::dsp::CompressorParams p;
    p.threshold_db = threshold;
    p.ratio = ratio;
    p.knee_db = 0.0;
    p.rms_detector = c.rms;
    p.rms_ms = 10.0;  // ten periods of the 1 kHz tone
    // The peak detector: instant attack and a release far longer than a period hold the reduction
    // of the peaks; the RMS detector: its level is steady, any smoother settles on it.
    p.attack_ms = c.rms ? 5.0 : 0.01;
    p.release_ms = c.rms ? 50.0 : 10000.0;
    const auto in = tone(c.square, a);
    auto out = in;
    lq::cpu::ThreadPool pool(2);
    lq::cpu::compress(out, p, pool);
    // Peak: the level is the amplitude; RMS: a sine reads 3.01 dB under it, a square at it.
    const double level = 20.0 * std::log10(c.rms && !c.square ? a / std::sqrt(2.0) : a);
    EXPECT_NEAR(settled_gain_db(in, out), expected_db(level, threshold, ratio), 0.1)
        << (c.square ? "square" : "sine") << ", " << (c.rms ? "rms" : "peak");
  }
}

TEST(CompressorDetector, TheRmsDetectorGivesTheSameBitsInAnySpansAndThreads) {
  lq::dsp::CompressorParams p;
  p.threshold_db = -30.0;
  p.ratio = 3.0;
  p.rms_detector = true;
  p.rms_ms = 7.3;  // a window that divides no span
  p.stereo_link = 0.5;
  auto in = tone(false, 0.3);
  for (int64_t i = 0; i < in.frames(); ++i) in.channels[1][size_t(i)] *= float(1.0 + 0.5 * std::sin(double(i) * 1e-3));
  auto whole = in;
  lq::cpu::ThreadPool one(1), two(2);
  lq::cpu::compress(whole, p, one);
  for (const int64_t span : {int64_t(1000), int64_t(4096), int64_t(65536)}) {
    lq::cpu::CompressorStream stream(p, kFs, 2);
    lq::AudioBuffer out = in;
    for (int64_t b = 0; b < in.frames(); b += span) {
      const int64_t n = std::min(span, in.frames() - b);
      lq::AudioBuffer piece(2, n, kFs);
      for (int c = 0; c < 2; ++c) std::copy_n(in.channels[size_t(c)].begin() + b, n, piece.channels[size_t(c)].begin());
      stream.process(piece, n, two);
      for (int c = 0; c < 2; ++c) std::copy_n(piece.channels[size_t(c)].begin(), n, out.channels[size_t(c)].begin() + b);
    }
    EXPECT_EQ(out.channels, whole.channels) << "spans of " << span;
  }
}

}  // namespace
