// The compressor: static curve on steady sines, attack/release time constants, stereo link,
// look-ahead, the float64 reference, and exactness of the chunked smoother under chunking and threads.
#include <gtest/gtest.h>

#include <algorithm>
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

// Constant magnitude (+a, -a, ...) per segment: the detector's level is exactly 20 log10(a).
lq::AudioBuffer stepped(const std::vector<double>& levels_db, double seconds_each, int channels = 2) {
  const int64_t each = std::llround(seconds_each * kFs);
  lq::AudioBuffer b(channels, each * int64_t(levels_db.size()), kFs);
  for (size_t s = 0; s < levels_db.size(); ++s) {
    const auto a = static_cast<float>(std::pow(10.0, levels_db[s] / 20.0));
    for (int64_t i = 0; i < each; ++i) {
      for (auto& ch : b.channels) ch[size_t(int64_t(s) * each + i)] = (i % 2) ? -a : a;
    }
  }
  return b;
}

double gain_db_at(const lq::AudioBuffer& in, const lq::AudioBuffer& out, int64_t i, int c = 0) {
  return 20.0 * std::log10(std::fabs(double(out.channels[size_t(c)][size_t(i)]) /
                                     double(in.channels[size_t(c)][size_t(i)])));
}

// Gaussian noise in bursts (loud for 7000 frames, quiet for 14000), the right channel 3 dB lower.
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

std::vector<float> scaled(const std::vector<float>& x, int exponent) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = std::ldexp(x[i], exponent);
  return y;
}

}  // namespace

TEST(Compressor, SteadySinesSettleWithinATenthOfADecibelOfTheStaticCurve) {
  lq::dsp::CompressorParams p;
  p.threshold_db = -20.0;
  p.ratio = 4.0;
  p.knee_db = 6.0;
  p.attack_ms = 0.02;     // the reduction reaches each peak's value ...
  p.release_ms = 2000.0;  // ... and holds it between peaks
  lq::cpu::ThreadPool pool(2);
  // Below the knee, on its edges, inside it, at the threshold, and above it.
  for (double level : {-40.0, -26.0, -23.0, -22.0, -20.0, -18.5, -17.0, -12.0, -3.0}) {
    lq::AudioBuffer in(2, int64_t(kFs), kFs);
    const double a = std::pow(10.0, level / 20.0);
    for (int64_t i = 0; i < in.frames(); ++i) {
      // 1 kHz: 48 samples per period, one of them on the crest, so the sample peak is a.
      const auto v = static_cast<float>(a * std::cos(2.0 * std::numbers::pi * 1000.0 * double(i) / kFs));
      in.channels[0][size_t(i)] = in.channels[1][size_t(i)] = v;
    }
    auto out = in;
    lq::cpu::compress(out, p, pool);
    double peak_in = 0.0, peak_out = 0.0;  // steady state: the last quarter second
    for (int64_t i = in.frames() * 3 / 4; i < in.frames(); ++i) {
      peak_in = std::max(peak_in, std::fabs(double(in.channels[0][size_t(i)])));
      peak_out = std::max(peak_out, std::fabs(double(out.channels[0][size_t(i)])));
    }
    const double level_in = 20.0 * std::log10(peak_in), level_out = 20.0 * std::log10(peak_out);
    const double expected = level_in - lq::test::static_gain_reduction_db(level_in, -20.0, 4.0, 6.0);
    EXPECT_NEAR(level_out, expected, 0.1) << "sine at " << level << " dBFS";
  }
}

TEST(Compressor, AttackAndReleaseTimeConstantsAreWithinFivePercent) {
  struct Case {
    double attack_ms, release_ms;
  };
  lq::cpu::ThreadPool pool(2);
  for (const Case& c : {Case{10.0, 100.0}, Case{1.0, 500.0}}) {
    lq::dsp::CompressorParams p;
    p.threshold_db = -30.0;
    p.ratio = 10.0;
    p.knee_db = 0.0;
    p.attack_ms = c.attack_ms;
    p.release_ms = c.release_ms;
    // -60 dB (no reduction) for 1 s, 0 dB for 1 s, -60 dB for 4 s.
    auto in = stepped({-60.0, 0.0, -60.0, -60.0, -60.0, -60.0}, 1.0);
    auto out = in;
    lq::cpu::compress(out, p, pool);
    const double full = lq::test::static_gain_reduction_db(0.0, -30.0, 10.0, 0.0);
    // Time from `from` until the reduction (dB) first crosses `target`.
    auto crossing_s = [&](int64_t from, double target, bool rising) {
      for (int64_t i = from; i < in.frames(); ++i) {
        const double gr = -gain_db_at(in, out, i);
        if (rising ? gr >= target : gr <= target) return double(i - from) / kFs;
      }
      return -1.0;
    };
    const double attack_s = crossing_s(int64_t(kFs), full * (1.0 - std::exp(-1.0)), true);
    const double release_s = crossing_s(int64_t(2 * kFs), full * std::exp(-1.0), false);
    EXPECT_NEAR(attack_s, c.attack_ms * 1e-3, c.attack_ms * 1e-3 * 0.05);
    EXPECT_NEAR(release_s, c.release_ms * 1e-3, c.release_ms * 1e-3 * 0.05);
  }
}

TEST(Compressor, FullStereoLinkGivesBothChannelsTheSameGainBitForBit) {
  // The right channel is the left one 30.1 dB lower (2^-5): an exact power of two, so equal gains
  // give outputs whose ratio is exactly 2^-5 again, and the image does not move at all.
  auto in = noise_bursts(1.0, 3);
  in.channels[1] = scaled(in.channels[0], -5);
  lq::dsp::CompressorParams p;
  p.threshold_db = -20.0;
  lq::cpu::ThreadPool pool(2);
  auto linked = in;
  const auto stats = lq::cpu::compress(linked, p, pool);
  ASSERT_GT(stats.max_gain_reduction_db, 6.0);
  EXPECT_TRUE(lq::test::bit_equal(linked.channels[1], scaled(linked.channels[0], -5)));

  p.stereo_link = 0.0;
  auto unlinked = in;
  lq::cpu::compress(unlinked, p, pool);
  EXPECT_FALSE(lq::test::bit_equal(unlinked.channels[1], scaled(unlinked.channels[0], -5)))
      << "unlinked channels got the same gain";
}

TEST(Compressor, UnlinkedQuietChannelIsLeftAloneAndPartialLinkLiesBetween) {
  auto in = noise_bursts(1.0, 8);
  for (auto& v : in.channels[1]) v *= 0.05f;  // peaks at -26 dBFS
  lq::dsp::CompressorParams p;
  p.knee_db = 0.0;
  lq::cpu::ThreadPool pool(2);
  auto run = [&](double threshold_db, double link) {
    p.threshold_db = threshold_db;
    p.stereo_link = link;
    auto out = in;
    lq::cpu::compress(out, p, pool);
    return out;
  };
  EXPECT_TRUE(lq::test::bit_equal(run(-20.0, 0.0).channels[1], in.channels[1]))
      << "the quiet channel was compressed";
  // The smoother is monotone in its input, so a level between the own and the linked one gives a
  // gain between theirs (up to float rounding).
  const auto none = run(-40.0, 0.0), half = run(-40.0, 0.5), full = run(-40.0, 1.0);
  int64_t outside = 0, strictly = 0;
  for (int64_t i = 0; i < in.frames(); ++i) {
    if (in.channels[1][size_t(i)] == 0.0f) continue;
    const double g0 = gain_db_at(in, none, i, 1), g5 = gain_db_at(in, half, i, 1),
                 g1 = gain_db_at(in, full, i, 1);
    if (g5 > g0 + 1e-4 || g5 < g1 - 1e-4) ++outside;
    if (g5 < g0 - 0.1 && g5 > g1 + 0.1) ++strictly;
  }
  EXPECT_EQ(outside, 0) << "half-linked gain outside [linked, unlinked]";
  EXPECT_GT(strictly, in.frames() / 2) << "half-linked gain not strictly between";
}

TEST(Compressor, MatchesTheFloat64ReferenceWithinTwoThousandthsOfADecibel) {
  const auto in = noise_bursts(2.0, 9);
  lq::cpu::ThreadPool pool(2);
  lq::dsp::CompressorParams a;
  a.threshold_db = -24.0;
  a.ratio = 4.0;
  a.knee_db = 6.0;
  a.attack_ms = 5.0;
  a.release_ms = 80.0;
  lq::dsp::CompressorParams b = a;  // every option at once
  b.stereo_link = 0.7;
  b.lookahead_ms = 3.0;
  b.auto_makeup = true;
  b.ratio = 8.0;
  b.knee_db = 12.0;
  for (const auto& p : {a, b}) {
    auto out = in;
    const auto stats = lq::cpu::compress(out, p, pool);
    const auto g = lq::test::compressor_gains(in.channels, kFs, p);
    for (size_t c = 0; c < 2; ++c) {
      std::vector<double> expected(g[c].size());
      for (size_t i = 0; i < expected.size(); ++i) expected[i] = g[c][i] * in.channels[c][i];
      // 2e-3 dB = 2.3e-4 relative: float32 level, curve and smoother state (ulp 2e-6 dB near 16 dB,
      // accumulated over the release's ~1/(1 - alpha) = 3840 steps) against float64 throughout.
      EXPECT_TRUE(
          lq::test::all_close(out.channels[c], expected, {1e-9, 2.3e-4, "float32 compressor vs float64"}))
          << "channel " << c << " link " << p.stereo_link;
    }
    if (p.lookahead_ms == 0.0 && !p.auto_makeup) {
      double max_gr = 0.0, sum_gr = 0.0;
      for (double v : g[0]) {
        max_gr = std::max(max_gr, -20.0 * std::log10(v));
        sum_gr += -20.0 * std::log10(v);
      }
      EXPECT_NEAR(stats.max_gain_reduction_db, max_gr, 2e-3);
      EXPECT_NEAR(stats.mean_gain_reduction_db, sum_gr / double(g[0].size()), 2e-3);
    }
  }
}

TEST(Compressor, LookAheadAppliesTheSameGainExactlyThatManyFramesEarlier) {
  // Levels change every 1111 frames, so the gain moves all the time; where |x[i]| = |x[i + d]|,
  // the output with look-ahead d at i must equal the plain output at i + d in magnitude, bit for bit.
  std::mt19937 rng(4);
  std::uniform_real_distribution<double> level(-40.0, 0.0);
  std::vector<double> levels(40);
  for (auto& l : levels) l = level(rng);
  const auto in = stepped(levels, 1111.0 / kFs);
  lq::dsp::CompressorParams p;
  p.attack_ms = 2.0;
  lq::cpu::ThreadPool pool(2);
  auto plain = in;
  lq::cpu::compress(plain, p, pool);
  p.lookahead_ms = 5.0;
  const int64_t d = 240;
  auto ahead = in;
  lq::cpu::compress(ahead, p, pool);
  int64_t compared = 0, mismatched = 0;
  for (int64_t i = 0; i + d < in.frames(); ++i) {
    if (std::fabs(in.channels[0][size_t(i)]) != std::fabs(in.channels[0][size_t(i + d)])) continue;
    ++compared;
    if (std::fabs(ahead.channels[0][size_t(i)]) != std::fabs(plain.channels[0][size_t(i + d)])) ++mismatched;
  }
  EXPECT_EQ(mismatched, 0);
  EXPECT_GT(compared, in.frames() * 3 / 4);
  EXPECT_FALSE(lq::test::bit_equal(ahead.channels[0], plain.channels[0]));

  // Absolute timing: silence, then 0 dBFS from frame `onset`. The reduction starts on the onset's
  // own frame without look-ahead, and exactly d frames earlier with it.
  const int64_t onset = 4800;
  lq::AudioBuffer step(1, 9600, kFs);
  for (int64_t i = onset; i < step.frames(); ++i) step.channels[0][size_t(i)] = (i % 2) ? -1.0f : 1.0f;
  for (double ms : {0.0, 5.0}) {
    p.lookahead_ms = ms;
    const int64_t start = onset - (ms > 0.0 ? d : 0);
    // A constant -60 dBFS probe beside it (linked, below the threshold) shows the gain itself.
    lq::AudioBuffer both(2, step.frames(), kFs);
    both.channels[0] = step.channels[0];
    std::fill(both.channels[1].begin(), both.channels[1].end(), 1e-3f);
    lq::cpu::compress(both, p, pool);
    EXPECT_EQ(both.channels[1][size_t(start - 1)], 1e-3f) << "look-ahead " << ms << " ms: reduced too early";
    EXPECT_LT(both.channels[1][size_t(start)], 1e-3f) << "look-ahead " << ms << " ms: not reduced on time";
  }
}

TEST(Compressor, ChunkedSmootherEqualsTheSequentialLoopBitForBit) {
  const auto in = noise_bursts(3.0, 5);
  std::vector<float> gr(in.channels[0].size());
  for (size_t i = 0; i < gr.size(); ++i) {
    gr[i] = lq::dsp::gain_reduction_db(lq::dsp::level_db(in.channels[0][i]), -30.0f, 4.0f, 6.0f);
  }
  const auto n = int64_t(gr.size());
  const lq::dsp::GainSmoother rec{gr.data(), 0.99f, 0.9998f};
  std::vector<float> ref(gr.size());
  lq::cpu::run_sequential(rec, ref.data(), n);
  lq::cpu::ThreadPool pool(2);
  for (int64_t chunk :
       {int64_t(1), int64_t(2), int64_t(7), int64_t(997), int64_t(65537), int64_t(100003), n - 1, n, n + 5}) {
    std::vector<float> y(gr.size(), -1.0f);
    lq::cpu::run_chunked(pool, rec, y.data(), n, chunk);
    EXPECT_TRUE(lq::test::bit_equal(y, ref)) << "chunk " << chunk;
  }
}

TEST(Compressor, OneAndTwoThreadsGiveIdenticalBits) {
  const auto in = noise_bursts(12.0, 6);  // longer than one smoother chunk (2^19 frames)
  lq::cpu::ThreadPool one(1), two(2);
  for (double link : {1.0, 0.5}) {
    lq::dsp::CompressorParams p;
    p.stereo_link = link;
    p.lookahead_ms = 2.0;
    auto a = in, b = in;
    const auto sa = lq::cpu::compress(a, p, one);
    const auto sb = lq::cpu::compress(b, p, two);
    EXPECT_TRUE(lq::test::bit_equal(a.channels[0], b.channels[0])) << "link " << link;
    EXPECT_TRUE(lq::test::bit_equal(a.channels[1], b.channels[1])) << "link " << link;
    EXPECT_EQ(sa.max_gain_reduction_db, sb.max_gain_reduction_db);
    EXPECT_EQ(sa.mean_gain_reduction_db, sb.mean_gain_reduction_db);
    EXPECT_GT(sa.max_gain_reduction_db, 1.0);
  }
}

TEST(Compressor, RatioOneIsBitTransparentAndEmptyInputIsFine) {
  const auto in = noise_bursts(0.5, 2);
  lq::dsp::CompressorParams p;
  p.ratio = 1.0;
  lq::cpu::ThreadPool pool(2);
  auto out = in;
  const auto stats = lq::cpu::compress(out, p, pool);
  EXPECT_TRUE(lq::test::bit_equal(out.channels[0], in.channels[0]));
  EXPECT_TRUE(lq::test::bit_equal(out.channels[1], in.channels[1]));
  EXPECT_EQ(stats.max_gain_reduction_db, 0.0);
  lq::AudioBuffer empty(2, 0, kFs);
  EXPECT_EQ(lq::cpu::compress(empty, {}, pool).max_gain_reduction_db, 0.0);
}

// The executors skip the logarithm below CompressorCoefficients::quiet_magnitude: the skipped
// samples must be exactly those the static curve gives no reduction, checked on a dense sweep of
// magnitudes around the knee for several thresholds and knee widths.
TEST(Compressor, QuietMagnitudeShortcutOnlySkipsSamplesWithNoReduction) {
  for (double threshold : {-60.0, -18.0, -3.0, 0.0}) {
    for (double knee : {0.0, 1.0, 6.0, 24.0}) {
      lq::dsp::CompressorParams p;
      p.threshold_db = threshold;
      p.knee_db = knee;
      const auto k = lq::dsp::prepare_compressor(p, 48000.0);
      ASSERT_GT(k.quiet_magnitude, 0.0f);
      int checked = 0;
      for (float a = k.quiet_magnitude * 0.9f; a < k.quiet_magnitude; a = std::nextafter(a, 1.0f)) {
        ASSERT_EQ(lq::dsp::gain_reduction_db(lq::dsp::level_db(a), k.threshold_db, k.ratio, k.knee_db), 0.0f)
            << "magnitude " << a << " threshold " << threshold << " knee " << knee;
        if (++checked > 200'000) break;
      }
      // ... and the margin is small: just above the knee the curve does reduce.
      const float above = static_cast<float>(lq::dsp::db_to_linear(threshold - 0.5 * knee + 0.01));
      EXPECT_GT(lq::dsp::gain_reduction_db(lq::dsp::level_db(above), k.threshold_db, k.ratio, k.knee_db), 0.0f);
    }
  }
}

// The compressor's own exp and log (kernels/dsp/common.hpp) against libm in long double, over the
// ranges the sample paths use: exp2 over [-1000, 1000] (the clamp), including the half-integers
// where the rounding of n breaks ties; log2 over every binade a float sample can have, including
// the mantissas either side of sqrt(2) where the range reduction switches.
TEST(CompressorMath, PolynomialExpAndLogAgreeWithLibm) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> wide(-1000.0, 1000.0), unit(0.0, 1.0);
  double worst_exp = 0.0, worst_log = 0.0;
  for (int i = 0; i < 400000; ++i) {
    double t = i % 4 == 0 ? std::round(0.99 * wide(rng)) + 0.5 : (i % 4 == 1 ? wide(rng) / 50.0 : wide(rng));
    const long double want = std::exp2l(static_cast<long double>(t));
    worst_exp = std::max(worst_exp, double(std::fabs(static_cast<long double>(lq::dsp::exp2_poly(t)) / want - 1.0L)));
    const float x = static_cast<float>(std::exp2(-34.0 + 164.0 * unit(rng)));  // 1e-10 .. 2^130 (float max)
    if (!std::isfinite(x)) continue;
    worst_log = std::max(worst_log, double(std::fabs(static_cast<long double>(lq::dsp::log2_poly(double(x))) -
                                                      std::log2l(static_cast<long double>(x)))));
  }
  for (double m : {1.4142135623730949, 1.4142135623730951, 1.4142135623730954, 1.0, 2.0 - 1e-16}) {
    for (int e : {-33, -1, 0, 1, 60}) {
      const double x = std::ldexp(m, e);
      worst_log = std::max(worst_log, std::fabs(lq::dsp::log2_poly(x) - double(std::log2l(static_cast<long double>(x)))));
    }
  }
  EXPECT_LT(worst_exp, 1e-11);
  EXPECT_LT(worst_log, 1e-11);
  EXPECT_EQ(lq::dsp::exp2_poly(0.0), 1.0);
  EXPECT_EQ(lq::dsp::exp2_poly(-3.0), 0.125);
  EXPECT_EQ(lq::dsp::log2_poly(1.0), 0.0);
  EXPECT_EQ(lq::dsp::log2_poly(0.25), -2.0);
}

// The branch-free static curve against its three pieces written out (Giannoulis 2012, eq. 4).
TEST(CompressorMath, StaticCurveMatchesItsPiecesWithAndWithoutAKnee) {
  for (float knee : {0.0f, 6.0f}) {
    for (float x = -60.0f; x <= 10.0f; x += 0.03125f) {
      const float t = -18.0f, r = 4.0f, over = x - t, slope = 1.0f - 1.0f / r;
      float want;
      if (2.0f * over < -knee) {
        want = 0.0f;
      } else if (knee > 0.0f && 2.0f * over <= knee) {
        const float k = over + 0.5f * knee;
        want = slope * k * k / (2.0f * knee);
      } else {
        want = over > 0.0f ? slope * over : 0.0f;
      }
      ASSERT_EQ(lq::dsp::gain_reduction_db(x, t, r, knee), want) << "x " << x << " knee " << knee;
    }
  }
}

// The render streams its stems: the compressor over consecutive spans (lengths crossing the
// statistics' 2^16-frame blocks, the smoother's chunks and a span shorter than the look-ahead),
// each given the signal's next frames as look-ahead, equals one pass over the whole signal, bits
// and figures.
TEST(CompressorStream, SpansOfAnyLengthGiveTheWholeSignalsBitsAndFigures) {
  const auto in = noise_bursts(6.0, 9);  // 288000 frames
  lq::cpu::ThreadPool pool(2);
  const std::vector<int64_t> spans = {70001, 65536, 50, 131072, 21341};  // sum 288000
  for (double link : {1.0, 0.5}) {
    for (double lookahead_ms : {0.0, 3.0}) {
      lq::dsp::CompressorParams p;
      p.stereo_link = link;
      p.lookahead_ms = lookahead_ms;
      auto whole = in;
      const auto expected = lq::cpu::compress(whole, p, pool);
      lq::cpu::CompressorStream stream(p, kFs, 2);
      const int64_t w = stream.lookahead_frames();
      lq::AudioBuffer out(2, 0, kFs);
      int64_t at = 0;
      for (const int64_t len : spans) {
        const int64_t ahead = std::min(w, in.frames() - at - len);
        lq::AudioBuffer span(2, len + ahead, kFs);
        for (int c = 0; c < 2; ++c) {
          std::copy_n(in.channels[size_t(c)].begin() + at, len + ahead, span.channels[size_t(c)].begin());
        }
        stream.process(span, len, pool);
        for (int c = 0; c < 2; ++c) {
          auto& dst = out.channels[size_t(c)];
          dst.insert(dst.end(), span.channels[size_t(c)].begin(), span.channels[size_t(c)].begin() + len);
          // the look-ahead frames are read, not changed
          EXPECT_TRUE(std::equal(span.channels[size_t(c)].begin() + len, span.channels[size_t(c)].end(),
                                 in.channels[size_t(c)].begin() + at + len));
        }
        at += len;
      }
      ASSERT_EQ(at, in.frames());
      const std::string what = "link " + std::to_string(link) + ", look-ahead " + std::to_string(lookahead_ms) + " ms";
      EXPECT_TRUE(lq::test::bit_equal(out.channels[0], whole.channels[0])) << what;
      EXPECT_TRUE(lq::test::bit_equal(out.channels[1], whole.channels[1])) << what;
      const auto got = stream.stats();
      EXPECT_EQ(got.max_gain_reduction_db, expected.max_gain_reduction_db) << what;
      EXPECT_EQ(got.mean_gain_reduction_db, expected.mean_gain_reduction_db) << what;
      EXPECT_GT(expected.max_gain_reduction_db, 3.0) << what;
    }
  }
}
