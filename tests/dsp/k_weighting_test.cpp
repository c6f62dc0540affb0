// K-weighting (kernels/dsp/k_weighting.hpp) against BS.1770-4 Tables 1 and 2, libebur128's formula
// at other rates (docs/algorithms.md "K-weighting"), the 48 kHz magnitude response at every rate, and
// the chunked executor against the plain sequential loop, bit for bit.
#include "kernels/dsp/k_weighting.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/loudness.hpp"
#include "kernels/cpu/recurrence.hpp"
#include "support/expect_close.hpp"

namespace {

using lq::dsp::BiquadCoefficients;

// BS.1770-4 Annex 1, Tables 1 and 2 (48 kHz).
constexpr BiquadCoefficients kTableShelf{1.53512485958697, -2.69169618940638, 1.19839281085285,
                                         -1.69065929318241, 0.73248077421585};
constexpr BiquadCoefficients kTableHighpass{1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621};

void expect_coefficients(const BiquadCoefficients& got, const BiquadCoefficients& want, double tol) {
  EXPECT_NEAR(got.b0, want.b0, tol);
  EXPECT_NEAR(got.b1, want.b1, tol);
  EXPECT_NEAR(got.b2, want.b2, tol);
  EXPECT_NEAR(got.a1, want.a1, tol);
  EXPECT_NEAR(got.a2, want.a2, tol);
}

double k_weighting_db(const BiquadCoefficients& shelf, const BiquadCoefficients& hp, double f, double fs) {
  return 20.0 * std::log10(lq::dsp::biquad_magnitude(shelf, f, fs) * lq::dsp::biquad_magnitude(hp, f, fs));
}

// Noise bursts of varying level separated by digital silence (the case where a speculated chunk
// starts from the right state only once the true state has decayed to exactly 0).
std::vector<float> bursts_with_silence(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t phase = (i / 9000) % 4;
    const float level = phase == 0 ? 0.5f : phase == 1 ? 0.02f : phase == 2 ? 0.0f : 1e-6f;
    x[static_cast<size_t>(i)] = level * g(rng);
  }
  return x;
}

}  // namespace

TEST(KWeighting, CoefficientsAt48kHzEqualTheBs1770Tables) {
  const auto k = lq::dsp::k_weighting_coefficients(48000.0);
  expect_coefficients(k.shelf, kTableShelf, 1e-12);
  expect_coefficients(k.highpass, kTableHighpass, 1e-12);
}

TEST(KWeighting, CoefficientsAtOtherRatesEqualLibebur128sPrototypes) {
  struct Row {
    double fs;
    BiquadCoefficients shelf;
    double hp_a1, hp_a2;
  };
  // Computed from libebur128's ebur128_init_filter (14 decimals; docs/algorithms.md "K-weighting").
  const Row rows[] = {
      {44100.0,
       {1.53084123005035, -2.65097999515473, 1.16907907992159, -1.66365511325602, 0.71259542807323},
       -1.98916967362980,
       0.98919903578704},
      {88200.0,
       {1.55751537557965, -2.90562707992635, 1.36133397747221, -1.83091998796233, 0.84414226108785},
       -1.99457751545034,
       0.99458487587805},
      {96000.0,
       {1.55971422897580, -2.92674157825108, 1.37826120231582, -1.84460946989011, 0.85584332293064},
       -1.99501754472472,
       0.99502375904092},
      {192000.0,
       {1.57222721509128, -3.04728305156155, 1.47797134097961, -1.92220223060749, 0.92511773511683},
       -1.99750722284070,
       0.99750877835551},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.fs);
    const auto k = lq::dsp::k_weighting_coefficients(r.fs);
    expect_coefficients(k.shelf, r.shelf, 1e-13);
    EXPECT_NEAR(k.highpass.a1, r.hp_a1, 1e-13);
    EXPECT_NEAR(k.highpass.a2, r.hp_a2, 1e-13);
    // Stage 2's numerator keeps Table 2's shape, scaled to its 48 kHz pass-band gain (header).
    EXPECT_EQ(k.highpass.b1, -2.0 * k.highpass.b0);
    EXPECT_EQ(k.highpass.b2, k.highpass.b0);
  }
}

TEST(KWeighting, MagnitudeAt48kHzMatchesThePublishedResponse) {
  // BS.1770's response from the coefficients, 4 decimals (the table in docs/algorithms.md "K-weighting").
  const double f[] = {20, 25, 38, 50, 100, 200, 500, 997, 1000, 1500, 2000, 4000, 8000, 10000, 16000, 20000};
  const double db[] = {-13.2754, -10.3928, -6.0026, -3.9341, -1.1335, -0.2649, 0.0425, 0.6910,
                       0.6977,   2.0355,   3.0713,  3.9680,  4.0394,  4.0419,  4.0431, 4.0431};
  const auto k = lq::dsp::k_weighting_coefficients(48000.0);
  for (size_t i = 0; i < std::size(f); ++i) {
    EXPECT_NEAR(k_weighting_db(k.shelf, k.highpass, f[i], 48000.0), db[i], 6e-5) << f[i] << " Hz";
  }
}

TEST(KWeighting, MagnitudeAtEveryRateIsWithinOneHundredthDbOfThe48kHzTable) {
  for (double fs : {44100.0, 48000.0, 88200.0, 96000.0, 192000.0}) {
    const auto k = lq::dsp::k_weighting_coefficients(fs);
    const double f_max = std::min(0.45 * fs, 20000.0);
    double worst = 0.0;
    for (int i = 0; i <= 400; ++i) {
      const double f = 20.0 * std::pow(f_max / 20.0, i / 400.0);
      const double ref = k_weighting_db(kTableShelf, kTableHighpass, f, 48000.0);
      worst = std::max(worst, std::fabs(k_weighting_db(k.shelf, k.highpass, f, fs) - ref));
    }
    EXPECT_LT(worst, 0.01) << fs << " Hz";
  }
}

TEST(KWeighting, ChunkedStagesEqualTheSequentialLoopForAnyChunkLength) {
  const int64_t n = 60'000;
  const auto x = bursts_with_silence(n, 5);
  const auto k = lq::dsp::k_weighting_coefficients(44100.0);
  lq::dsp::BiquadRecurrence<float> r1;
  r1.x = x.data();
  r1.c = k.shelf;
  std::vector<double> s1(static_cast<size_t>(n));
  lq::cpu::run_sequential(r1, s1.data(), n);
  lq::dsp::BiquadRecurrence<double> r2;
  r2.x = s1.data();
  r2.c = k.highpass;
  std::vector<double> s2(static_cast<size_t>(n));
  lq::cpu::run_sequential(r2, s2.data(), n);

  lq::cpu::ThreadPool pool(2);
  for (int64_t chunk : {int64_t{1}, int64_t{7}, int64_t{4801}, int64_t{17'777}, n, n + 1000}) {
    std::vector<double> y1(static_cast<size_t>(n), 3.0), y2(static_cast<size_t>(n), -3.0);
    lq::cpu::run_chunked(pool, r1, y1.data(), n, chunk);
    EXPECT_TRUE(lq::test::bit_equal(y1, s1)) << "stage 1, chunk " << chunk;
    lq::cpu::run_chunked(pool, r2, y2.data(), n, chunk);
    EXPECT_TRUE(lq::test::bit_equal(y2, s2)) << "stage 2, chunk " << chunk;
  }
}

TEST(KWeighting, SegmentEnergiesEqualTheSequentialStagesBitForBitForAnyThreadCount) {
  const int64_t n = 150'000;
  lq::AudioBuffer audio(2, n, 48000.0);
  audio.channels[0] = bursts_with_silence(n, 1);
  audio.channels[1] = bursts_with_silence(n, 2);
  const int channels[] = {0, 1};
  const int64_t segment = 480;

  // Reference: each stage as the plain sequential loop, then sums in index order.
  const auto k = lq::dsp::k_weighting_coefficients(48000.0);
  std::vector<std::vector<double>> ref(2);
  for (int c = 0; c < 2; ++c) {
    std::vector<double> s1(static_cast<size_t>(n)), s2(static_cast<size_t>(n));
    lq::dsp::BiquadRecurrence<float> r1;
    r1.x = audio.channels[static_cast<size_t>(c)].data();
    r1.c = k.shelf;
    lq::cpu::run_sequential(r1, s1.data(), n);
    lq::dsp::BiquadRecurrence<double> r2;
    r2.x = s1.data();
    r2.c = k.highpass;
    lq::cpu::run_sequential(r2, s2.data(), n);
    for (int64_t s = 0; s < n / segment; ++s) {
      double acc = 0.0;
      for (int64_t i = s * segment; i < (s + 1) * segment; ++i)
        acc += s2[static_cast<size_t>(i)] * s2[static_cast<size_t>(i)];
      ref[static_cast<size_t>(c)].push_back(acc);
    }
  }

  for (int threads : {1, 2, 3}) {
    lq::cpu::ThreadPool pool(threads);
    const auto e = lq::cpu::k_weighted_segment_energies(audio, channels, segment, pool);
    ASSERT_EQ(e.size(), 2u);
    for (int c = 0; c < 2; ++c) {
      EXPECT_TRUE(lq::test::bit_equal(e[static_cast<size_t>(c)], ref[static_cast<size_t>(c)]))
          << "threads " << threads << " channel " << c;
    }
  }
}

TEST(KWeighting, SegmentEnergiesMatchANaiveFloat64Cascade) {
  // Independent reference: both stages in one loop, plain double, no snapping, no chunks.
  const int64_t n = 96'000;
  lq::AudioBuffer audio(1, n, 96000.0);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-0.7f, 0.7f);
  for (auto& v : audio.channels[0]) v = u(rng);
  const auto k = lq::dsp::k_weighting_coefficients(96000.0);
  double xs[3] = {}, ys[3] = {}, zs[3] = {};
  std::vector<double> ref;
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    xs[2] = xs[1];
    xs[1] = xs[0];
    xs[0] = audio.channels[0][static_cast<size_t>(i)];
    ys[2] = ys[1];
    ys[1] = ys[0];
    ys[0] = k.shelf.b0 * xs[0] + k.shelf.b1 * xs[1] + k.shelf.b2 * xs[2] - k.shelf.a1 * ys[1] -
            k.shelf.a2 * ys[2];
    zs[2] = zs[1];
    zs[1] = zs[0];
    zs[0] = k.highpass.b0 * ys[0] + k.highpass.b1 * ys[1] + k.highpass.b2 * ys[2] - k.highpass.a1 * zs[1] -
            k.highpass.a2 * zs[2];
    acc += zs[0] * zs[0];
    if ((i + 1) % 960 == 0) {
      ref.push_back(acc);
      acc = 0.0;
    }
  }
  lq::cpu::ThreadPool pool(2);
  const int channels[] = {0};
  const auto e = lq::cpu::k_weighted_segment_energies(audio, channels, 960, pool);
  EXPECT_TRUE(lq::test::all_close(e[0], ref, {0.0, 1e-10, "float64 rounding, different operation order"}));
}

TEST(KWeighting, FilteredSilenceSettlesToExactZeroSoChunksMeetQuickly) {
  const int64_t n = 48000 * 4;
  std::vector<float> x(static_cast<size_t>(n), 0.0f);
  std::mt19937 rng(4);
  std::normal_distribution<float> g(0.0f, 0.5f);
  for (int64_t i = 0; i < 48000; ++i) x[static_cast<size_t>(i)] = g(rng);  // 1 s noise, 3 s silence
  const auto k = lq::dsp::k_weighting_coefficients(48000.0);
  lq::dsp::BiquadRecurrence<float> r1;
  r1.x = x.data();
  r1.c = k.shelf;
  std::vector<double> s1(static_cast<size_t>(n)), s2(static_cast<size_t>(n));
  lq::cpu::run_sequential(r1, s1.data(), n);
  lq::dsp::BiquadRecurrence<double> r2;
  r2.x = s1.data();
  r2.c = k.highpass;
  lq::cpu::run_sequential(r2, s2.data(), n);
  // Decay from ~1 to the 1e-20 snap at the slowest pole (radius ~0.995) takes ~10^4 samples.
  for (int64_t i = 48000 + 48000; i < n; ++i) ASSERT_EQ(s2[static_cast<size_t>(i)], 0.0) << i;

  // So speculated chunks that start in the silence already hold the true (zero) values: the
  // fix-up stops within the first samples of each such chunk.
  lq::cpu::ThreadPool pool(2);
  const int64_t chunk = 24'000;
  std::vector<double> y2(static_cast<size_t>(n), 5.0);
  const int64_t rerun = lq::cpu::run_chunked(pool, r2, y2.data(), n, chunk);
  EXPECT_TRUE(lq::test::bit_equal(y2, s2));
  EXPECT_LT(rerun, 48000 + 48000 + 4 * 2) << "chunks inside the silence were re-run";
}

// The meter's passes side by side in spans (cpu::MeterStream: two channels' K-weighting in one
// loop, the true-peak blocks beside it, an 11-frame history across spans) against the whole-buffer
// kernels, bit for bit: three channels (a pair, whose recurrences run in the two lanes of SSE2
// registers, against the one-channel loop; and a single), spans of 1, 5 and 11 frames among longer
// ones (shorter than the history), at one and two threads. The bursts decay through the snap.
TEST(KWeighting, TheMeterStreamHasTheWholeBufferPassesBits) {
  const int64_t n = 300007;
  lq::AudioBuffer audio(3, n, 44100.0);
  for (int c = 0; c < 3; ++c) audio.channels[size_t(c)] = bursts_with_silence(n, unsigned(10 + c));
  audio.channels[2][size_t(n - 1)] = 0.9f;  // a peak at the last frame: its tail positions count
  const int channels[] = {0, 2, 1};
  const int64_t segment = 441;
  for (int threads : {1, 2}) {
    lq::cpu::ThreadPool pool(threads);
    const auto want = lq::cpu::k_weighted_segment_energies(audio, channels, segment, pool);
    lq::cpu::MeterStream m(channels, 3, audio.sample_rate, segment);
    const int64_t spans[] = {1, 5, 70001, 11, 65536, 100000, 3};
    for (int64_t b = 0, k = 0; b < n; ++k) {
      const int64_t e = std::min(n, b + spans[k % 7]);
      m.add(audio, b, e, pool);
      b = e;
    }
    m.finish();
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_TRUE(lq::test::bit_equal(m.energies(j), want[j])) << "threads " << threads << " channel " << channels[j];
    }
    EXPECT_EQ(m.true_peak(), lq::cpu::true_peak_scan(audio, pool)) << "threads " << threads;
    EXPECT_EQ(m.sample_peak(), lq::cpu::sample_peak_scan(audio, pool)) << "threads " << threads;
    EXPECT_EQ(m.frames(), n);
  }
}
