// The overlap-save convolver (kernels/cpu/convolver.cpp) against independent float64 references
// (tests/reference/direct_convolution.hpp): every filter length from a single tap to a 5.5 s IR,
// signal lengths that are primes (never a multiple of the hop), both offset modes, arbitrary
// output windows, and bit identity across thread counts.
#include "kernels/cpu/convolver.hpp"

#include <fftw3.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "reference/direct_convolution.hpp"
#include "support/expect_close.hpp"

namespace {

using lq::cpu::Convolver;
using lq::cpu::ThreadPool;

// Gaussian noise whose first `silent` samples are digital silence (exercises the all-zero frames).
std::vector<float> noise(int64_t n, unsigned seed, int64_t silent = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = i < silent ? 0.0f : g(rng);
  return x;
}

// A reverb-like filter: noise under an exponential decay of 60 dB over its length.
std::vector<float> decaying_filter(int64_t l, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<float> h(static_cast<size_t>(l));
  for (int64_t j = 0; j < l; ++j) {
    h[static_cast<size_t>(j)] = static_cast<float>(g(rng) * std::exp(-6.9 * static_cast<double>(j) / static_cast<double>(l)));
  }
  return h;
}

int64_t prime_at_least(int64_t n) {
  for (;; ++n) {
    bool prime = n > 1;
    for (int64_t d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
    if (prime) return n;
  }
}

std::vector<float> run(const Convolver& c, const std::vector<float>& x, int64_t offset, int64_t n_out,
                       ThreadPool& pool) {
  std::vector<float> y(static_cast<size_t>(n_out), 12345.0f);
  c.process(x.data(), static_cast<int64_t>(x.size()), offset, y.data(), n_out, pool);
  return y;
}

double rms(const std::vector<double>& v) {
  double s = 0.0;
  for (double a : v) s += a * a;
  return std::sqrt(s / static_cast<double>(v.size()));
}

class ConvolverVsReference : public ::testing::TestWithParam<int64_t> {};

}  // namespace

TEST_P(ConvolverVsReference, EqualsFloat64ConvolutionInBothOffsetModes) {
  const int64_t l = GetParam();
  const auto h = decaying_filter(l, 100 + static_cast<unsigned>(l % 1000));
  const Convolver conv(h);
  const int64_t hop = l == 1 ? 4096 : conv.fft_size() - l + 1;
  // Two and a half hops, rounded up to a prime, with a silent stretch of over two frames.
  const int64_t n_in = prime_at_least(hop * 5 / 2 + 1);
  const auto x = noise(n_in, 7, l == 1 ? 4096 : std::min(n_in / 3, 2 * conv.fft_size() + 5));
  ThreadPool pool(2);

  // The whole linear convolution, from the naive sum when it is cheap, else one float64 FFT.
  const int64_t n_full = n_in + l - 1;
  const bool naive = n_full * l <= 60'000'000;
  const std::vector<double> full = naive ? lq::test::direct_convolution(x, h, 0, n_full)
                                         : lq::test::fft_convolution_f64(x, h);
  ASSERT_EQ(static_cast<int64_t>(full.size()), n_full);

  struct Mode { const char* name; int64_t offset, n_out; };
  for (const Mode mode : {Mode{"linear-phase trim", (l - 1) / 2, n_in}, Mode{"full tail", 0, n_full}}) {
    SCOPED_TRACE(mode.name);
    const auto y = run(conv, x, mode.offset, mode.n_out, pool);
    const std::vector<double> ref(full.begin() + mode.offset, full.begin() + mode.offset + mode.n_out);
    const double err = lq::test::relative_rms_error(y, ref);
    EXPECT_LT(err, 1e-6) << "L " << l << " K " << conv.fft_size() << " n " << n_in;
    std::ostringstream note;
    note << err;
    RecordProperty(std::string("rel_rms_") + (mode.offset == 0 ? "tail" : "trim"), note.str());
    // Every sample, not just the RMS: float FFT rounding stays far below 1e-5 of the signal RMS.
    const double level = rms(ref);
    EXPECT_TRUE(lq::test::all_close(y, ref, {2e-5 * level, 0.0, "float FFT rounding vs signal RMS"}));
    if (!naive) {
      // The FFT reference itself against the naive sum at random outputs.
      std::mt19937 rng(3);
      std::uniform_int_distribution<int64_t> pick(0, mode.n_out - 1);
      for (int i = 0; i < 24; ++i) {
        const int64_t k = pick(rng);
        const double direct = lq::test::direct_convolution_at(x, h, mode.offset, k);
        EXPECT_NEAR(ref[static_cast<size_t>(k)], direct, 1e-9 * level) << "reference at " << k;
        EXPECT_NEAR(y[static_cast<size_t>(k)], direct, 2e-5 * level) << "output at " << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(FilterLengths, ConvolverVsReference,
                         ::testing::Values(1, 2, 3, 17, 1000, 4801, (1 << 14) + 3, 144'000, 1 << 18),
                         [](const auto& p) { return std::to_string(p.param) + "_taps"; });

TEST(Convolver, GivesTheSameBitsWithOneOrTwoThreads) {
  ThreadPool one(1), two(2);
  for (int64_t l : {1, 17, 4801, 144'000}) {
    const auto h = decaying_filter(l, 5);
    const Convolver conv(h);
    const int64_t n_in = 2'000'003;
    const auto x = noise(n_in, 9, 70'001);
    const int64_t offset = (l - 1) / 2;
    EXPECT_TRUE(lq::test::bit_equal(run(conv, x, offset, n_in, one), run(conv, x, offset, n_in, two))) << "L " << l;
  }
}

// process_channels runs every channel's jobs in one parallel loop: each channel's output must be
// its own process() call's, bit for bit, for filters of different lengths (a scalar tap, short
// and reverb-long ones: one block per channel), inputs of their own, at one, two and three threads.
TEST(Convolver, ChannelsInOneParallelLoopEqualEachChannelAlone) {
  const std::vector<int64_t> lengths = {144'000, 1, 4801, 144'000};
  const int64_t n_in = 900'001, n_out = n_in + 144'000 - 1;
  std::vector<Convolver> convs;
  std::vector<std::vector<float>> x, alone;
  ThreadPool one(1);
  for (size_t c = 0; c < lengths.size(); ++c) {
    convs.emplace_back(decaying_filter(lengths[c], unsigned(20 + c)));
    x.push_back(noise(n_in, unsigned(30 + c), c == 2 ? 300'000 : 0));
    alone.emplace_back(size_t(n_out), -1.0f);
    convs[c].process(x[c].data(), n_in, 0, alone[c].data(), n_out, one);
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::vector<float>> y(lengths.size(), std::vector<float>(size_t(n_out), -1.0f));
    std::vector<const Convolver*> cp;
    std::vector<const float*> xp;
    std::vector<float*> yp;
    for (size_t c = 0; c < lengths.size(); ++c) {
      cp.push_back(&convs[c]);
      xp.push_back(x[c].data());
      yp.push_back(y[c].data());
    }
    lq::cpu::process_channels(cp, xp, n_in, 0, yp, n_out, pool);
    for (size_t c = 0; c < lengths.size(); ++c) {
      EXPECT_TRUE(lq::test::bit_equal(y[c], alone[c])) << "threads " << threads << " channel " << c;
    }
  }
}

TEST(Convolver, BuildsAndRunsOnSeveralThreadsAtOnceWithTheSameBits) {
  const std::vector<int64_t> lengths = {17, 1000, 4801, 9000, 30'000, 70'000};
  const auto x = noise(300'007, 13);
  std::vector<std::vector<float>> alone(lengths.size()), together(lengths.size());
  for (size_t i = 0; i < lengths.size(); ++i) {
    ThreadPool pool(1);
    alone[i] = run(Convolver(decaying_filter(lengths[i], 2)), x, 0, 300'007, pool);
  }
  std::vector<std::thread> threads;
  for (size_t i = 0; i < lengths.size(); ++i) {
    threads.emplace_back([&, i] {
      ThreadPool pool(1);  // one pool per calling thread (thread_pool.hpp)
      together[i] = run(Convolver(decaying_filter(lengths[i], 2)), x, 0, 300'007, pool);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < lengths.size(); ++i) EXPECT_TRUE(lq::test::bit_equal(alone[i], together[i])) << lengths[i];
}

TEST(Convolver, ComputesAnyOutputWindowWithZerosOutsideTheInput) {
  ThreadPool pool(2);
  const int64_t n_in = 20'011;
  const auto x = noise(n_in, 21);
  for (int64_t l : {1, 2, 1000, 4801}) {
    const auto h = decaying_filter(l, 8);
    const Convolver conv(h);
    const double level = rms(lq::test::direct_convolution(x, h, 0, n_in + l - 1));
    struct Window { int64_t offset, n_out; };
    for (const Window w : {Window{0, 5003},            // shorter than the input
                           Window{0, n_in + l + 7001},  // past the end of the tail
                           Window{-3001, 9007},         // starts before the input
                           Window{n_in - 601, 4409},    // runs off the end of the input
                           Window{n_in + l, 7919}}) {   // entirely after the tail: zeros
      SCOPED_TRACE("L " + std::to_string(l) + " offset " + std::to_string(w.offset) + " n_out " + std::to_string(w.n_out));
      const auto y = run(conv, x, w.offset, w.n_out, pool);
      const auto ref = lq::test::direct_convolution(x, h, w.offset, w.n_out);
      EXPECT_TRUE(lq::test::all_close(y, ref, {1e-5 * level, 0.0, "float FFT rounding vs output RMS"}));
      if (w.offset - (l - 1) >= n_in) {
        // A window whose every frame lies after the input is exact zeros, not FFT rounding noise.
        EXPECT_TRUE(lq::test::bit_equal(y, std::vector<float>(y.size(), 0.0f)));
      }
    }
  }
}

TEST(Convolver, SingleTapIsTheExactlyRoundedProduct) {
  ThreadPool pool(2);
  const auto x = noise(100'003, 4);
  const float gain = 0.7071f;
  const Convolver conv(std::vector<float>{gain});
  EXPECT_EQ(conv.fft_size(), 0);
  const auto y = run(conv, x, 5, 100'010, pool);
  std::vector<float> expected(y.size(), 0.0f);
  for (size_t k = 0; k + 5 < x.size(); ++k) expected[k] = gain * x[k + 5];
  EXPECT_TRUE(lq::test::bit_equal(y, expected));
}

TEST(Convolver, FftSizeIsAPowerOfTwoOfAtLeastFourFilterLengths) {
  for (int64_t l : {2, 3, 17, 1000, 4801, 8192, 16'387, 65'535, 144'000, 262'144, 576'000}) {
    const int64_t k = lq::cpu::convolver_fft_size(l);
    EXPECT_EQ(k & (k - 1), 0) << "L " << l;
    EXPECT_GE(k, 4 * l) << "L " << l;
    EXPECT_LE(k, 16 * std::max<int64_t>(l, 256)) << "L " << l;
  }
  // docs/algorithms.md "Convolution": 2^20 for a 3 s IR at 48 kHz.
  EXPECT_EQ(lq::cpu::convolver_fft_size(144'000), 1 << 20) << "2^20 for a 3 s IR at 48 kHz";
}

// The plans fix the transforms' rounding, so they come from the wisdom in the source, not from
// timing (kernels/cpu/convolver.cpp). Every K the convolver picks for filters up to a 6 s IR at
// 48 kHz (2^12 .. 2^21) must be in it; a size past it has none, which shows the check can fail.
TEST(Convolver, ShippedWisdomHoldsThePlansOfEveryFftSizeUpToA6SecondIr) {
  if (!lq::cpu::fftw_wisdom_accepted()) {
    GTEST_SKIP() << "this FFTW build (" << fftwf_version
                 << ") rejects kernels/cpu/fftw_wisdom.inc; the convolver plans with FFTW_ESTIMATE "
                    "(regenerate with scripts/make-fftw-wisdom.sh)";
  }
  EXPECT_EQ(lq::cpu::convolver_fft_size(288'000), int64_t{1} << 21);
  for (int64_t k = int64_t{1} << 12; k <= int64_t{1} << 21; k *= 2) EXPECT_TRUE(lq::cpu::fft_plans_from_wisdom(k)) << "K " << k;
  EXPECT_FALSE(lq::cpu::fft_plans_from_wisdom(int64_t{1} << 22));
  EXPECT_FALSE(lq::cpu::fft_plans_from_wisdom(3 << 12));
}

TEST(Convolver, RejectsAnEmptyFilter) {
  EXPECT_THROW(Convolver(std::vector<float>{}), std::invalid_argument);
}

// The bank's largest magnitude over its filters against float64 direct convolution, for filters of
// different lengths (zero-padded to the longest), outputs past the full convolution's end, a silent
// stretch longer than a block, and values already in `out` that are larger; the same bits on 1 and
// 2 threads.
TEST(ConvolverBank, MaxAbsEqualsTheLargestDirectConvolutionMagnitude) {
  std::mt19937 rng(8);
  std::normal_distribution<float> g(0.0f, 0.5f);
  const std::vector<int64_t> lengths = {128, 32, 77};
  std::vector<std::vector<float>> filters;
  for (int64_t l : lengths) {
    std::vector<float> h(static_cast<size_t>(l));
    for (auto& v : h) v = g(rng) / float(l);
    filters.push_back(h);
  }
  std::vector<std::span<const float>> spans(filters.begin(), filters.end());
  const lq::cpu::ConvolverBank bank(spans, 128);
  const int64_t n_in = 30000, n_out = n_in + 200;
  std::vector<float> x(static_cast<size_t>(n_in));
  for (int64_t i = 0; i < n_in; ++i) x[size_t(i)] = (i >= 10000 && i < 19000) ? 0.0f : g(rng);
  std::vector<double> want(static_cast<size_t>(n_out), 0.0);
  for (const auto& h : filters) {
    const auto y = lq::test::direct_convolution(x, h, 0, n_out);
    for (int64_t i = 0; i < n_out; ++i) want[size_t(i)] = std::max(want[size_t(i)], std::fabs(y[size_t(i)]));
  }
  std::vector<double> out1(static_cast<size_t>(n_out), 0.0);
  out1[5] = 100.0;  // kept: larger than any output
  std::vector<double> out2 = out1;
  lq::cpu::ThreadPool one(1), two(2);
  bank.max_abs(x.data(), n_in, out1.data(), 0, n_out, one);
  bank.max_abs(x.data(), n_in, out2.data(), 0, n_out, two);
  EXPECT_TRUE(lq::test::bit_equal(out1, out2));
  // A range (not on a block boundary) holds the whole call's values at its positions.
  const int64_t r0 = 777, r1 = n_out - 3;
  std::vector<double> part(static_cast<size_t>(r1 - r0), 0.0);
  bank.max_abs(x.data(), n_in, part.data(), r0, r1, two);
  const std::vector<double> whole_part(out1.begin() + r0, out1.begin() + r1);
  EXPECT_TRUE(lq::test::bit_equal(part, whole_part));
  EXPECT_EQ(out1[5], 100.0);
  want[5] = 100.0;
  double worst = 0.0, peak = 0.0;
  for (int64_t i = 0; i < n_out; ++i) {
    worst = std::max(worst, std::fabs(out1[size_t(i)] - want[size_t(i)]));
    if (i != 5) peak = std::max(peak, want[size_t(i)]);
  }
  EXPECT_LT(worst, 1e-6 * peak);  // the silent stretch and the tail included (rounding noise only)
}
