// The true-peak limiter: the ceiling is never exceeded as the BS.1770-4 Annex 2 meter reads it,
// nothing changes below the ceiling, the look-ahead acts before the peak, the release is exact
// under chunking and threads, and the gain recovers.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "kernels/dsp/dynamics.hpp"
#include "kernels/dsp/true_peak.hpp"
#include "support/expect_close.hpp"

namespace {

// The meter, scanned independently of the limiter's own scan: every position, every channel.
double true_peak_db(const lq::AudioBuffer& a) {
  double peak = 0.0;
  for (const auto& ch : a.channels) {
    const auto n = int64_t(ch.size());
    for (int64_t i = 0; i < n + 11; ++i) peak = std::max(peak, lq::dsp::true_peak_at(ch.data(), n, i));
  }
  return 20.0 * std::log10(peak);
}

// Signal kinds of the issue: noise, square waves, sine sweeps, clipped drums, DC steps.
lq::AudioBuffer random_signal(int kind, double fs, double over_db, std::mt19937& rng) {
  const auto n = int64_t(0.5 * fs);
  lq::AudioBuffer b(2, n, fs);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double amp = std::pow(10.0, over_db / 20.0);
  const double f0 = 50.0 + 5000.0 * u(rng);
  for (int64_t i = 0; i < n; ++i) {
    const double t = double(i) / fs;
    double l = 0.0, r = 0.0;
    switch (kind) {
      case 0:  // white noise
        l = 0.3 * amp * g(rng);
        r = 0.3 * amp * g(rng);
        break;
      case 1:  // square wave
        l = r = amp * (std::fmod(t * f0, 1.0) < 0.5 ? 1.0 : -1.0);
        break;
      case 2: {  // full-scale sine sweep 20 Hz .. 0.49 fs, phase offset between channels
        const double f1 = 0.49 * fs, dur = 0.5;
        const double ph = 2 * std::numbers::pi * 20.0 * dur / std::log(f1 / 20.0) * (std::exp(t / dur * std::log(f1 / 20.0)) - 1.0);
        l = amp * std::sin(ph);
        r = amp * std::sin(ph + 0.7);
        break;
      }
      case 3: {  // clipped drum hits: decaying noise bursts, hard-clipped at 1
        const double env = std::exp(-std::fmod(t, 0.125) * 40.0);
        l = std::clamp(2.0 * amp * env * g(rng), -amp, amp);
        r = std::clamp(2.0 * amp * env * g(rng), -amp, amp);
        break;
      }
      default:  // DC steps with a sine on top
        l = amp * ((i / 3000) % 2 ? 0.8 : -0.8) + 0.2 * amp * std::sin(2 * std::numbers::pi * f0 * t);
        r = -l;
    }
    b.channels[0][size_t(i)] = static_cast<float>(l);
    b.channels[1][size_t(i)] = static_cast<float>(r);
  }
  return b;
}

}  // namespace

TEST(Limiter, NeverLetsTheTruePeakAboveTheCeilingOnAHundredRandomSignals) {
  std::mt19937 rng(2026);
  const double rates[] = {44100.0, 48000.0, 96000.0};
  const double ceilings[] = {-1.0, -0.1, -3.0};
  lq::cpu::ThreadPool pool(2);
  int passes_total = 0;
  for (int k = 0; k < 100; ++k) {
    const double fs = rates[k % 3];
    const double ceiling = ceilings[(k / 3) % 3];
    const double over = 12.0 * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    auto a = random_signal(k % 5, fs, over, rng);
    lq::dsp::LimiterParams p;
    p.ceiling_dbtp = ceiling;
    const auto stats = lq::cpu::limit_true_peak(a, p, pool);
    const double tp = true_peak_db(a);
    EXPECT_LE(tp, ceiling) << "signal " << k << " kind " << k % 5 << " at " << fs << " Hz, over " << over << " dB";
    EXPECT_NEAR(stats.output_true_peak_dbtp, tp, 1e-9);
    passes_total += stats.passes;
  }
  RecordProperty("limiter_passes_total", passes_total);
}

TEST(Limiter, LeavesSignalsBelowTheCeilingBitIdentical) {
  std::mt19937 rng(1);
  lq::cpu::ThreadPool pool(2);
  auto a = random_signal(0, 48000.0, -10.0, rng);  // noise ~ -20 dBFS RMS, true peak well below -1
  ASSERT_LT(true_peak_db(a), -1.0);
  const auto before = a;
  const auto stats = lq::cpu::limit_true_peak(a, {}, pool);
  EXPECT_TRUE(lq::test::bit_equal(a.channels[0], before.channels[0]));
  EXPECT_TRUE(lq::test::bit_equal(a.channels[1], before.channels[1]));
  EXPECT_EQ(stats.max_gain_reduction_db, 0.0);
  EXPECT_EQ(stats.passes, 0);
}

TEST(Limiter, ReducesTheGainBeforeThePeakArrives) {
  const double fs = 48000.0;
  lq::AudioBuffer a(2, 48000, fs);
  for (auto& ch : a.channels) std::fill(ch.begin(), ch.end(), 0.1f);
  const int64_t spike = 24000;
  for (auto& ch : a.channels) ch[size_t(spike)] = 2.0f;  // +6 dBFS
  lq::dsp::LimiterParams p;
  p.lookahead_ms = 5.0;  // 240 frames
  lq::cpu::ThreadPool pool(1);
  lq::cpu::limit_true_peak(a, p, pool);
  EXPECT_LT(a.channels[0][size_t(spike - 120)], 0.1f) << "no gain reduction half a look-ahead before the peak";
  EXPECT_EQ(a.channels[0][size_t(spike - 400)], 0.1f) << "gain reduced earlier than the look-ahead";
  EXPECT_LE(true_peak_db(a), -1.0);
}

TEST(Limiter, ReleaseRecoversToUnityWithItsTimeConstant) {
  const double fs = 48000.0;
  lq::AudioBuffer a(1, 96000, fs);
  for (int64_t i = 0; i < 96000; ++i) {
    a.channels[0][size_t(i)] = i < 24000 ? static_cast<float>(1.5 * std::sin(2 * std::numbers::pi * 100.0 * double(i) / fs)) : 0.01f;
  }
  const auto in = a;
  lq::dsp::LimiterParams p;
  p.release_ms = 80.0;
  lq::cpu::ThreadPool pool(2);
  lq::cpu::limit_true_peak(a, p, pool);
  auto gain = [&](int64_t i) { return double(a.channels[0][size_t(i)]) / double(in.channels[0][size_t(i)]); };
  const int64_t t1 = 24000 + 960, t2 = 24000 + 4800;  // 20 ms and 100 ms after the loud part
  const double tau_s = double(t2 - t1) / fs / std::log((1.0 - gain(t1)) / (1.0 - gain(t2)));
  EXPECT_NEAR(tau_s, 0.080, 0.008);
  EXPECT_EQ(gain(95999), 1.0) << "the gain never came back to unity";
}

TEST(Limiter, ChunkedReleaseEqualsTheSequentialLoopBitForBit) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.2, 1.0);
  std::vector<double> h(300000, 1.0);
  for (size_t i = 0; i < h.size(); i += 1 + size_t(u(rng) * 3000)) h[i] = u(rng);
  const lq::dsp::LimiterRelease rec{h.data(), lq::dsp::one_pole_alpha(0.05, 48000.0)};
  std::vector<double> ref(h.size());
  lq::cpu::run_sequential(rec, ref.data(), int64_t(ref.size()));
  lq::cpu::ThreadPool pool(2);
  for (int64_t chunk : {int64_t(1), int64_t(13), int64_t(4096), int64_t(65536), int64_t(299999)}) {
    std::vector<double> y(h.size(), -1.0);
    lq::cpu::run_chunked(pool, rec, y.data(), int64_t(y.size()), chunk);
    EXPECT_TRUE(lq::test::bit_equal(y, ref)) << "chunk " << chunk;
  }
}

TEST(Limiter, OneAndTwoThreadsGiveIdenticalBits) {
  std::mt19937 rng(3);
  auto a = random_signal(3, 48000.0, 9.0, rng);
  a.resize_frames(200000);  // longer than a release chunk, with silence at the end
  auto b = a;
  lq::cpu::ThreadPool one(1), two(2);
  lq::cpu::limit_true_peak(a, {}, one);
  lq::cpu::limit_true_peak(b, {}, two);
  EXPECT_TRUE(lq::test::bit_equal(a.channels[0], b.channels[0]));
  EXPECT_TRUE(lq::test::bit_equal(a.channels[1], b.channels[1]));
}
