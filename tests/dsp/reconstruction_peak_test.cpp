// The reconstruction bound (kernels/cpu/reconstruction_peak.hpp) against the float64 ideal
// reconstruction (tests/reference/reconstruction.hpp), which is itself checked on sines of known
// peak up to 0.495 fs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/reconstruction_peak.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "reference/reconstruction.hpp"

namespace {

constexpr double kPi = 3.14159265358979323846;

double db(double ratio) { return 20.0 * std::log10(ratio); }

// Tukey fades of `fade` samples at both ends: the edges add no content near fs/2.
void fade_ends(std::vector<float>& x, int fade) {
  const int n = int(x.size());
  for (int i = 0; i < fade && i < n; ++i) {
    const float w = float(0.5 - 0.5 * std::cos(kPi * (i + 0.5) / fade));
    x[size_t(i)] *= w;
    x[size_t(n - 1 - i)] *= w;
  }
}

std::vector<float> sine(int n, double f, double amplitude, double phase, int fade = 512) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) x[size_t(i)] = float(amplitude * std::sin(2.0 * kPi * f * i + phase));
  fade_ends(x, fade);
  return x;
}

double bound_of(const std::vector<std::vector<float>>& channels, int threads = 2) {
  lq::cpu::ThreadPool pool(threads);
  lq::AudioBuffer a(int(channels.size()), int64_t(channels[0].size()), 48000.0);
  for (size_t c = 0; c < channels.size(); ++c) a.channels[c] = channels[c];
  return lq::cpu::reconstruction_peak(a, pool);
}

TEST(ReconstructionReference, ReadsTheAmplitudeOfSinesUpTo0495FsWithin0002Db) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> phase(0.0, 2.0 * kPi);
  for (const double f : {0.01, 0.1, 0.25, 0.3333, 0.45, 0.48, 0.49, 0.495}) {
    const auto x = sine(6000, f, 0.5, phase(rng), 1500);
    // Between the fades the reconstruction is the sine itself (a sine at 0.495 fs has samples as
    // low as 0.5 |sin(pi 0.005 k)|: its peaks fall between them).
    const double peak = lq::test::reconstruction_peak(x, 2500.0, 3500.0);
    EXPECT_LT(std::fabs(db(peak / 0.5)), 0.002) << "f = " << f << " fs: " << db(peak / 0.5) << " dB";
  }
}

TEST(ReconstructionBound, IsAtMostAFewThousandthsOfADbAboveTheReferenceAndNeverBelowOnSines) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> phase(0.0, 2.0 * kPi);
  for (const double f : {0.05, 0.2, 0.37, 0.45, 0.48, 0.49}) {
    const auto x = sine(3000, f, 0.9, phase(rng));
    const double ref = lq::test::reconstruction_peak(x);
    const double b = bound_of({x});
    EXPECT_GE(db(b / ref), -0.002) << "f = " << f;
    EXPECT_LE(db(b / ref), 0.004) << "f = " << f;
  }
}

// Signals that break 4x detection, band-limited to 0.49 fs (as a master after its sample-rate
// conversion is): noise flat to 0.49 fs, noise in 0.40 .. 0.49 fs, hard-clipped drums, square
// waves, near-Nyquist sines beating slowly; faded at both ends.
std::vector<float> hard_case(int kind, std::mt19937& rng, int n) {
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  switch (kind) {
    case 0:
      for (auto& s : v) s = 0.3 * g(rng);
      v = lq::test::low_pass(v, 0.49);
      break;
    case 1: {  // noise low-passed to 0.045 fs, moved up to 0.40 .. 0.49 fs
      for (auto& s : v) s = g(rng);
      v = lq::test::low_pass(v, 0.045);
      for (int i = 0; i < n; ++i) v[size_t(i)] *= 1.2 * std::cos(2.0 * kPi * 0.445 * i);
      break;
    }
    case 2:  // decaying noise bursts driven 8 dB into a hard clip at 0.6, then band-limited
      for (int i = 0; i < n; ++i) v[size_t(i)] = std::clamp(1.5 * std::exp(-double(i % 1200) / 200.0) * g(rng), -0.6, 0.6);
      v = lq::test::low_pass(v, 0.49);
      break;
    case 3: {  // a square wave, band-limited
      const double period = 7.3 + 5.0 * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      for (int i = 0; i < n; ++i) v[size_t(i)] = std::fmod(double(i), period) < period / 2 ? 0.6 : -0.6;
      v = lq::test::low_pass(v, 0.49);
      break;
    }
    default: {  // two sines near Nyquist beating slowly
      const double f = 0.47 + 0.018 * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      for (int i = 0; i < n; ++i) v[size_t(i)] = 0.4 * std::sin(2 * kPi * f * i) + 0.4 * std::sin(2 * kPi * (f - 0.0007) * i + 1.0);
    }
  }
  std::vector<float> x(v.begin(), v.end());
  fade_ends(x, 256);
  return x;
}

TEST(ReconstructionBound, BoundsTheReferenceOnSignalsThatBreak4xDetection) {
  std::mt19937 rng(1234);
  double worst_under = 0.0, worst_over = -1.0;
  for (int kind = 0; kind < 5; ++kind) {
    for (int trial = 0; trial < 4; ++trial) {
      const auto x = hard_case(kind, rng, 3000);
      const double ref = lq::test::reconstruction_peak(x);
      const double b = bound_of({x});
      std::printf("kind %d trial %d: ref %.5f bound %.5f (%+.4f dB)\n", kind, trial, ref, b, db(b / ref));
      worst_under = std::min(worst_under, db(b / ref));
      worst_over = std::max(worst_over, db(b / ref));
      EXPECT_GE(db(b / ref), -0.002) << "kind " << kind << " trial " << trial;
      EXPECT_LE(db(b / ref), 0.004) << "kind " << kind << " trial " << trial;
    }
  }
  std::printf("bound - reference: %.4f .. %.4f dB\n", worst_under, worst_over);
}

TEST(ReconstructionBound, IsTheSameForAnyThreadCountAndAnySpanSplit) {
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0.0, 0.3);
  std::vector<float> x(300000);
  for (auto& v : x) v = float(g(rng));
  const double one = bound_of({x}, 1), two = bound_of({x}, 2);
  EXPECT_EQ(one, two);
  lq::cpu::ThreadPool pool(2);
  lq::AudioBuffer a(1, int64_t(x.size()), 48000.0);
  a.channels[0] = x;
  lq::cpu::ReconstructionPeak r(1);
  for (int64_t b = 0; b < a.frames(); b += 65536) r.add(a, b, std::min(a.frames(), b + 65536), pool);
  const double spans = r.finish(pool);
  // The FFT grid moves with the spans: the same bound to float rounding.
  EXPECT_NEAR(spans, one, 1e-6 * one);
  EXPECT_GT(r.refined_intervals(), 0);
  EXPECT_LT(r.refined_intervals(), int64_t(x.size()) / 4) << "the refinement touches only the loudest";
}

TEST(ReconstructionBound, IsZeroForSilenceAndCoversTheSamplesAtTheEdges) {
  EXPECT_EQ(bound_of({std::vector<float>(1000, 0.0f)}), 0.0);
  // One full-scale sample: its reconstruction peaks at the sample itself (1.0).
  std::vector<float> impulse(2000, 0.0f);
  impulse.back() = 1.0f;
  const double b = bound_of({impulse});
  EXPECT_GE(b, 1.0);
  EXPECT_LE(db(b), 0.004);
}

}  // namespace

// A region read (what the render's verify does after its gain dips) finds the overs the whole
// read finds there: the same intervals, bounds equal to float rounding (the FFT grid differs), and
// none outside the region; near the song's edges too.
TEST(ReconstructionBound, ARegionReadFindsTheOversTheWholeReadFindsThere) {
  std::mt19937 rng(77);
  std::normal_distribution<double> g(0.0, 0.3);
  lq::AudioBuffer a(2, 200000, 48000.0);
  for (auto& c : a.channels) {
    for (auto& v : c) v = float(g(rng));
  }
  lq::cpu::ThreadPool pool(2);
  const double level = 1.0;
  lq::cpu::ReconstructionPeak whole(2);
  whole.record_overs(level);
  whole.add(a, 0, a.frames(), pool);
  whole.finish(pool);
  const auto all = whole.overs();
  ASSERT_GT(all.size(), 20u);
  for (const auto& [k0, k1] : {std::pair<int64_t, int64_t>{-100, 9000}, {60000, 71000}, {a.frames() - 5000, a.frames() + 9000}}) {
    const auto region = lq::cpu::ReconstructionPeak::overs_in(a, k0, k1, level, pool);
    std::vector<lq::cpu::ReconstructionPeak::Over> expected;
    for (const auto& o : all) {
      if (o.frame >= k0 && o.frame < k1) expected.push_back(o);
    }
    ASSERT_FALSE(expected.empty()) << "[" << k0 << ", " << k1 << ")";
    ASSERT_EQ(region.size(), expected.size()) << "[" << k0 << ", " << k1 << ")";
    for (size_t i = 0; i < region.size(); ++i) {
      EXPECT_EQ(region[i].frame, expected[i].frame);
      EXPECT_NEAR(region[i].peak, expected[i].peak, 1e-6 * expected[i].peak);
    }
  }
}
