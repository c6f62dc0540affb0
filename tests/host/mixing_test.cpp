// Bus operations: pan law, width, sums, reverb returns, reverb tail trimming.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "host/mixing.hpp"
#include "reference/direct_convolution.hpp"
#include "support/expect_close.hpp"

namespace {

lq::AudioBuffer ramp(int channels, int64_t n, double rate = 48000.0) {
  lq::AudioBuffer b(channels, n, rate);
  for (int c = 0; c < channels; ++c) {
    for (int64_t i = 0; i < n; ++i) b.channels[size_t(c)][size_t(i)] = 0.001f * float(i % 997) - 0.3f * float(c);
  }
  return b;
}

}  // namespace

TEST(Pan, MonoAtCentreIsMinusThreeDecibelsInEachChannel) {
  const auto out = lq::to_stereo(ramp(1, 100), 0.0, 0.0);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_NEAR(out.channels[0][i], ramp(1, 100).channels[0][i] * std::sqrt(0.5), 1e-7);
    EXPECT_EQ(out.channels[0][i], out.channels[1][i]);
  }
}

TEST(Pan, MonoHardLeftSilencesTheRightAndKeepsPowerConstant) {
  const auto in = ramp(1, 50);
  const auto left = lq::to_stereo(in, -1.0, 0.0);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_NEAR(left.channels[1][i], 0.0f, 1e-9);
    EXPECT_NEAR(left.channels[0][i], in.channels[0][i], 1e-7);
  }
  for (double pan : {-0.7, -0.2, 0.4, 0.9}) {
    const auto s = lq::to_stereo(in, pan, 0.0);
    const double l = s.channels[0][10], r = s.channels[1][10], x = in.channels[0][10];
    EXPECT_NEAR(l * l + r * r, x * x, 1e-9) << "pan " << pan;
  }
}

TEST(Pan, StereoBalanceOnlyLowersTheOppositeSide) {
  const auto in = ramp(2, 20);
  const auto s = lq::to_stereo(in, 0.5, 6.0);
  const double g = std::pow(10.0, 6.0 / 20.0);
  EXPECT_NEAR(s.channels[0][5], 0.5 * g * in.channels[0][5], 1e-6);
  EXPECT_NEAR(s.channels[1][5], g * in.channels[1][5], 1e-6);
}

TEST(Width, OneIsBitIdenticalAndZeroIsMono) {
  auto a = ramp(2, 1000);
  const auto ref = a;
  lq::apply_width(a, 1.0);
  EXPECT_TRUE(lq::test::bit_equal(a.channels[0], ref.channels[0]));
  EXPECT_TRUE(lq::test::bit_equal(a.channels[1], ref.channels[1]));
  lq::apply_width(a, 0.0);
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(a.channels[0][i], a.channels[1][i]);
    EXPECT_NEAR(a.channels[0][i], 0.5 * (ref.channels[0][i] + ref.channels[1][i]), 1e-7);
  }
}

// Between and beyond: mid (L + R) / 2 stays, side (L - R) / 2 is scaled by the width.
TEST(Width, ScalesTheSideAndKeepsTheMid) {
  for (double w : {0.5, 1.5, 2.0}) {
    auto a = ramp(2, 1000);
    for (size_t i = 0; i < 1000; ++i) a.channels[1][i] = 0.3f * std::sin(0.01f * float(i));
    const auto ref = a;
    lq::apply_width(a, w);
    for (size_t i = 0; i < 1000; ++i) {
      const double l0 = ref.channels[0][i], r0 = ref.channels[1][i], l = a.channels[0][i], r = a.channels[1][i];
      ASSERT_NEAR(0.5 * (l + r), 0.5 * (l0 + r0), 1e-6) << "width " << w << " frame " << i;
      ASSERT_NEAR(0.5 * (l - r), w * 0.5 * (l0 - r0), 1e-6) << "width " << w << " frame " << i;
    }
  }
}

TEST(AddInto, GrowsTheDestinationAndSumsInOrder) {
  lq::AudioBuffer dst(2, 10, 48000.0);
  const auto src = ramp(2, 25);
  lq::add_into(dst, src, 0.5f);
  ASSERT_EQ(dst.frames(), 25);
  for (size_t i = 0; i < 25; ++i) EXPECT_EQ(dst.channels[1][i], 0.5f * src.channels[1][i]);
}

TEST(TrimTail, KeepsTheTailUntilItFallsBelowMinus90dBFS) {
  const int64_t song = 1000;
  lq::AudioBuffer a(2, 20000, 48000.0);
  // A decaying tail after the song: exp(-k/1000) crosses -90 dBFS (3.16e-5) at k ~ 10362.
  for (int64_t k = 0; k < 19000; ++k) a.channels[0][size_t(song + k)] = float(std::exp(-double(k) / 1000.0));
  const int64_t kept = lq::trim_tail(a, song, 48000);
  EXPECT_NEAR(double(kept), 1000.0 * std::log(1.0 / std::pow(10.0, -90.0 / 20.0)), 2.0);
  EXPECT_EQ(a.frames(), song + kept);
  EXPECT_EQ(a.channels[0].back(), 0.0f) << "the last frame is faded out";
}

TEST(TrimTail, IsCappedAndNeverCutsTheSong) {
  lq::AudioBuffer a(2, 5000, 48000.0);
  for (auto& c : a.channels) std::fill(c.begin(), c.end(), 0.5f);
  EXPECT_EQ(lq::trim_tail(a, 3000, 480), 480);
  EXPECT_EQ(a.frames(), 3480);
  EXPECT_EQ(a.channels[0][2999], 0.5f);
  lq::AudioBuffer b(2, 100, 48000.0);
  EXPECT_EQ(lq::trim_tail(b, 300, 10), 0);
  EXPECT_EQ(b.frames(), 300) << "shorter buffers are padded to the song length";
}

// The return is convolved in spans of about 2^20 frames and added in place: a 1.3 M-frame bus
// (two span boundaries) through a stereo 3000-tap IR, predelay 100 frames, into a buffer that
// already holds a signal; against the float64 FFT convolution, the mono IR on both channels.
TEST(ReverbReturn, AddsTheConvolutionAcrossSpansIntoTheDestination) {
  const int64_t n = 1300000, l = 3000, predelay = 100;
  const auto bus = ramp(2, n);
  lq::AudioBuffer ir(2, l, 48000.0);
  for (int64_t i = 0; i < l; ++i) {
    ir.channels[0][size_t(i)] = float(std::exp(-double(i) / 400.0) * std::cos(0.37 * double(i)));
    ir.channels[1][size_t(i)] = float(std::exp(-double(i) / 300.0) * std::sin(0.11 * double(i) + 0.2));
  }
  lq::cpu::ThreadPool pool(2);
  lq::CpuBackend backend(pool);
  for (const int ir_channels : {2, 1}) {
    lq::AudioBuffer one = ir;
    one.channels.resize(size_t(ir_channels));
    auto dst = ramp(2, 5000);  // shorter than the return: grows
    const auto before = dst;
    lq::add_reverb_return(dst, bus, one, predelay, -6.0, backend);
    ASSERT_EQ(dst.frames(), predelay + n + l - 1);
    const double wet = std::pow(10.0, -6.0 / 20.0);
    for (int c = 0; c < 2; ++c) {
      const auto full = lq::test::fft_convolution_f64(bus.channels[size_t(c)], one.channels[size_t(std::min(c, ir_channels - 1))]);
      std::vector<double> expected(size_t(dst.frames()), 0.0);
      for (size_t i = 0; i < full.size(); ++i) expected[size_t(predelay) + i] = float(wet) * full[i];
      for (int64_t i = 0; i < before.frames(); ++i) expected[size_t(i)] += before.channels[size_t(c)][size_t(i)];
      EXPECT_TRUE(lq::test::all_close(dst.channels[size_t(c)], expected, {2e-5, 1e-5, "return vs float64"}))
          << ir_channels << "-channel IR, channel " << c;
    }
  }
}
