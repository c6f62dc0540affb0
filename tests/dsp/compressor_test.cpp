// The compressor: static curve, time constants, stereo link, look-ahead, chunked smoother.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/dsp/dynamics.hpp"
#include "reference/dynamics_reference.hpp"
#include "support/expect_close.hpp"

namespace {

constexpr double kFs = 48000.0;

// Constant-magnitude signal (+a, -a, ...): its level in dB is exactly 20 log10(a) at every sample.
lq::AudioBuffer square(std::vector<double> levels_db, double seconds_each, int channels = 2) {
  const int64_t each = std::llround(seconds_each * kFs);
  lq::AudioBuffer b(channels, each * int64_t(levels_db.size()), kFs);
  for (size_t s = 0; s < levels_db.size(); ++s) {
    const float a = static_cast<float>(std::pow(10.0, levels_db[s] / 20.0));
    for (int64_t i = 0; i < each; ++i) {
      for (auto& ch : b.channels) ch[size_t(int64_t(s) * each + i)] = (i % 2) ? -a : a;
    }
  }
  return b;
}

double gain_db_at(const lq::AudioBuffer& in, const lq::AudioBuffer& out, int64_t i, int c = 0) {
  return 20.0 * std::log10(std::fabs(double(out.channels[size_t(c)][size_t(i)]) / double(in.channels[size_t(c)][size_t(i)])));
}

lq::AudioBuffer noise_bursts(double seconds, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  const auto n = int64_t(seconds * kFs);
  lq::AudioBuffer b(2, n, kFs);
  for (int64_t i = 0; i < n; ++i) {
    const float env = (i / 7000) % 3 == 0 ? 1.0f : 0.02f;
    b.channels[0][size_t(i)] = env * g(rng);
    b.channels[1][size_t(i)] = 0.7f * env * g(rng);
  }
  return b;
}

}  // namespace

TEST(Compressor, StaticCurveFollowsThresholdRatioAndKnee) {
  lq::dsp::CompressorParams p;
  p.threshold_db = -20.0;
  p.ratio = 4.0;
  p.knee_db = 6.0;
  p.attack_ms = 1.0;
  p.release_ms = 20.0;
  lq::cpu::ThreadPool pool(2);
  for (double level : {-40.0, -24.0, -21.0, -20.0, -18.5, -17.0, -10.0, 0.0}) {
    auto in = square({level}, 0.5);
    auto out = in;
    lq::cpu::compress(out, p, pool);
    const double expected = -lq::reference::static_gain_reduction_db(level, -20.0, 4.0, 6.0);
    EXPECT_NEAR(gain_db_at(in, out, in.frames() - 1), expected, 0.1) << "input level " << level;
  }
}

TEST(Compressor, SteadySineSettlesOnTheStaticCurveOfItsPeak) {
  lq::dsp::CompressorParams p;
  p.threshold_db = -30.0;
  p.ratio = 3.0;
  p.knee_db = 0.0;
  p.attack_ms = 0.05;
  p.release_ms = 5000.0;  // holds the peak's reduction between the sine's peaks
  lq::cpu::ThreadPool pool(1);
  lq::AudioBuffer in(1, int64_t(kFs), kFs);
  for (size_t i = 0; i < in.channels[0].size(); ++i) {
    in.channels[0][i] = 0.5f * static_cast<float>(std::sin(2 * std::numbers::pi * 997.0 * double(i) / kFs));
  }
  auto out = in;
  lq::cpu::compress(out, p, pool);
  const double expected = -lq::reference::static_gain_reduction_db(20.0 * std::log10(0.5), -30.0, 3.0, 0.0);
  EXPECT_NEAR(gain_db_at(in, out, in.frames() - 10), expected, 0.1);
}

TEST(Compressor, AttackAndReleaseTimeConstantsAreWithinFivePercent) {
  lq::dsp::CompressorParams p;
  p.threshold_db = -30.0;
  p.ratio = 10.0;
  p.knee_db = 0.0;
  p.attack_ms = 10.0;
  p.release_ms = 100.0;
  lq::cpu::ThreadPool pool(2);
  // -60 dB (no reduction) for 0.2 s, 0 dB for 1 s, -60 dB for 1 s.
  auto in = square({-60.0, 0.0, -60.0}, 1.0);
  auto out = in;
  lq::cpu::compress(out, p, pool);
  const double full = lq::reference::static_gain_reduction_db(0.0, -30.0, 10.0, 0.0);
  auto first_crossing = [&](int64_t from, double target_gr, bool rising) {
    for (int64_t i = from; i < in.frames(); ++i) {
      const double gr = -gain_db_at(in, out, i);
      if (rising ? gr >= target_gr : gr <= target_gr) return double(i - from) / kFs;
    }
    return -1.0;
  };
  const double attack_s = first_crossing(int64_t(kFs), full * (1.0 - std::exp(-1.0)), true);
  const double release_s = first_crossing(int64_t(2 * kFs), full * std::exp(-1.0), false);
  EXPECT_NEAR(attack_s, 0.010, 0.010 * 0.05);
  EXPECT_NEAR(release_s, 0.100, 0.100 * 0.05);
}

TEST(Compressor, FullStereoLinkGivesBothChannelsTheSameGain) {
  auto in = noise_bursts(1.0, 3);
  for (auto& v : in.channels[1]) v *= 0.05f;  // the right channel stays below the threshold
  lq::dsp::CompressorParams p;
  p.threshold_db = -20.0;
  lq::cpu::ThreadPool pool(2);
  auto linked = in;
  lq::cpu::compress(linked, p, pool);
  int64_t differing = 0;
  for (int64_t i = 0; i < in.frames(); ++i) {
    if (in.channels[0][size_t(i)] == 0.0f || in.channels[1][size_t(i)] == 0.0f) continue;
    const double gl = double(linked.channels[0][size_t(i)]) / in.channels[0][size_t(i)];
    const double gr = double(linked.channels[1][size_t(i)]) / in.channels[1][size_t(i)];
    if (std::fabs(gl - gr) > 1e-6 * gl) ++differing;
  }
  EXPECT_EQ(differing, 0) << "the image moved: channels got different gains";
  p.stereo_link = 0.0;
  auto unlinked = in;
  lq::cpu::compress(unlinked, p, pool);
  EXPECT_TRUE(lq::test::bit_equal(unlinked.channels[1], in.channels[1])) << "unlinked quiet channel was compressed";
  EXPECT_FALSE(lq::test::bit_equal(unlinked.channels[0], in.channels[0]));
}

TEST(Compressor, MatchesTheFloat64Reference) {
  const auto in = noise_bursts(2.0, 9);
  lq::dsp::CompressorParams p;
  p.threshold_db = -24.0;
  p.ratio = 4.0;
  p.knee_db = 6.0;
  lq::cpu::ThreadPool pool(2);
  auto out = in;
  lq::cpu::compress(out, p, pool);
  const auto g = lq::reference::compressor_gain(in.channels, kFs, -24.0, 4.0, 6.0, 10.0, 100.0);
  std::vector<double> expected(g.size());
  for (size_t i = 0; i < g.size(); ++i) expected[i] = g[i] * in.channels[0][i];
  EXPECT_TRUE(lq::test::all_close(out.channels[0], expected, {1e-6, 1e-4, "float32 smoother vs float64 reference"}));
}

TEST(Compressor, LookAheadAppliesTheGainExactlyThatMuchEarlier) {
  const auto in = noise_bursts(1.0, 4);
  lq::dsp::CompressorParams p;
  lq::cpu::ThreadPool pool(2);
  auto plain = in;
  lq::cpu::compress(plain, p, pool);
  p.lookahead_ms = 5.0;
  auto ahead = in;
  lq::cpu::compress(ahead, p, pool);
  const int64_t d = 240;
  for (int64_t i = 1000; i < in.frames() - d; i += 37) {
    const double g_ahead = double(ahead.channels[0][size_t(i)]) / in.channels[0][size_t(i)];
    const double g_plain = double(plain.channels[0][size_t(i + d)]) / in.channels[0][size_t(i + d)];
    ASSERT_NEAR(g_ahead, g_plain, 1e-6 * g_plain) << "frame " << i;
  }
}

TEST(Compressor, ChunkedSmootherEqualsTheSequentialLoopBitForBit) {
  const auto in = noise_bursts(3.0, 5);
  std::vector<float> gr(in.channels[0].size());
  for (size_t i = 0; i < gr.size(); ++i) {
    gr[i] = lq::dsp::gain_reduction_db(lq::dsp::level_db(in.channels[0][i]), -30.0f, 4.0f, 6.0f);
  }
  const lq::dsp::GainSmoother rec{gr.data(), 0.99f, 0.9998f};
  std::vector<float> ref(gr.size());
  lq::cpu::run_sequential(rec, ref.data(), int64_t(ref.size()));
  lq::cpu::ThreadPool pool(2);
  for (int64_t chunk : {int64_t(1), int64_t(7), int64_t(1000), int64_t(65537), int64_t(100003), int64_t(gr.size())}) {
    std::vector<float> y(gr.size(), -1.0f);
    lq::cpu::run_chunked(pool, rec, y.data(), int64_t(y.size()), chunk);
    EXPECT_TRUE(lq::test::bit_equal(y, ref)) << "chunk " << chunk;
  }
}

TEST(Compressor, OneAndTwoThreadsGiveIdenticalBits) {
  const auto in = noise_bursts(12.0, 6);  // longer than one smoother chunk
  lq::dsp::CompressorParams p;
  p.stereo_link = 0.5;
  lq::cpu::ThreadPool one(1), two(2);
  auto a = in, b = in;
  const auto sa = lq::cpu::compress(a, p, one);
  const auto sb = lq::cpu::compress(b, p, two);
  EXPECT_TRUE(lq::test::bit_equal(a.channels[0], b.channels[0]));
  EXPECT_TRUE(lq::test::bit_equal(a.channels[1], b.channels[1]));
  EXPECT_EQ(sa.mean_gain_reduction_db, sb.mean_gain_reduction_db);
  EXPECT_GT(sa.max_gain_reduction_db, 1.0);
}
