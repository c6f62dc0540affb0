// The chunked (speculate + fix-up) executor equals the plain sequential loop bit for bit,
// for chunk boundaries anywhere, for order-1 (branching smoother) and order-2 (biquad) recurrences.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/recurrence.hpp"
#include "support/expect_close.hpp"

namespace {

// Branching attack/release one-pole (Giannoulis 2012, eq. 17) over a float input.
struct Smoother {
  using Value = float;
  static constexpr int order = 1;
  const float* x;
  float a_attack, a_release;
  float step(const float* prev, int64_t i) const {
    const float a = x[i] > prev[0] ? a_attack : a_release;
    return a * prev[0] + (1.0f - a) * x[i];
  }
  void guess(float* prev, int64_t start) const { prev[0] = start == 0 ? 0.0f : static_cast<float>(x[start]); }
};

// Direct-form-I biquad over a float input, double output (state = last two outputs).
struct Biquad {
  using Value = double;
  static constexpr int order = 2;
  const float* x;
  double b0, b1, b2, a1, a2;
  double step(const double* prev, int64_t i) const {
    const double x0 = x[i], x1 = i >= 1 ? double(x[i - 1]) : 0.0, x2 = i >= 2 ? double(x[i - 2]) : 0.0;
    return b0 * x0 + b1 * x1 + b2 * x2 - a1 * prev[0] - a2 * prev[1];
  }
  void guess(double* prev, int64_t) const { prev[0] = prev[1] = 0.0; }
};

std::vector<float> bursty_noise(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const bool loud = (i / 3000) % 3 == 0;
    x[static_cast<size_t>(i)] = std::fabs(g(rng)) * (loud ? 1.0f : 0.01f);
  }
  return x;
}

}  // namespace

TEST(ChunkedRecurrence, SmootherEqualsSequentialLoopForAnyChunkLength) {
  const int64_t n = 50'000;
  const auto x = bursty_noise(n, 7);
  const Smoother rec{x.data(), 0.9f, 0.9995f};
  std::vector<float> ref(static_cast<size_t>(n));
  lq::cpu::run_sequential(rec, ref.data(), n);
  lq::cpu::ThreadPool pool(2);
  for (int64_t chunk : {1, 2, 3, 17, 1000, 4096, 12'345, 49'999, 50'000, 70'000}) {
    std::vector<float> y(static_cast<size_t>(n), -1.0f);
    lq::cpu::run_chunked(pool, rec, y.data(), n, chunk);
    EXPECT_TRUE(lq::test::bit_equal(y, ref)) << "chunk " << chunk;
  }
  // Where the pool would run one thread (a one-thread pool, or a call from inside a job) the plain
  // loop runs: the same bits and nothing re-run.
  lq::cpu::ThreadPool one(1);
  std::vector<float> y(static_cast<size_t>(n), -1.0f);
  EXPECT_EQ(lq::cpu::run_chunked(one, rec, y.data(), n, 1000), 0);
  EXPECT_TRUE(lq::test::bit_equal(y, ref));
  std::vector<int64_t> reruns(2, -1);
  std::vector<std::vector<float>> ys(2, std::vector<float>(static_cast<size_t>(n), -1.0f));
  pool.parallel_for(2, [&](int64_t j) { reruns[size_t(j)] = lq::cpu::run_chunked(pool, rec, ys[size_t(j)].data(), n, 1000); });
  for (size_t j = 0; j < 2; ++j) {
    EXPECT_EQ(reruns[j], 0) << "inside a job";
    EXPECT_TRUE(lq::test::bit_equal(ys[j], ref));
  }
  EXPECT_GT(lq::cpu::run_chunked(pool, rec, y.data(), n, 1000), 0) << "from outside, chunks speculate";
}

TEST(ChunkedRecurrence, BiquadEqualsSequentialLoopForAnyChunkLength) {
  const int64_t n = 40'000;
  const auto x = bursty_noise(n, 11);
  // K-weighting stage 2 at 48 kHz (BS.1770-4 Table 2): a slow pole pair, long memory.
  const Biquad rec{x.data(), 1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621};
  std::vector<double> ref(static_cast<size_t>(n));
  lq::cpu::run_sequential(rec, ref.data(), n);
  lq::cpu::ThreadPool pool(2);
  for (int64_t chunk : {1, 2, 5, 4800, 9999, 40'000}) {
    std::vector<double> y(static_cast<size_t>(n), 123.0);
    lq::cpu::run_chunked(pool, rec, y.data(), n, chunk);
    EXPECT_TRUE(lq::test::bit_equal(y, ref)) << "chunk " << chunk;
  }
}

TEST(ChunkedRecurrence, FixupStopsEarlyWhenTrajectoriesMeet) {
  const int64_t n = 200'000;
  const auto x = bursty_noise(n, 3);
  const Smoother rec{x.data(), 0.5f, 0.99f};  // fast release: trajectories meet quickly
  std::vector<float> y(static_cast<size_t>(n));
  lq::cpu::ThreadPool pool(2);
  const int64_t rerun = lq::cpu::run_chunked(pool, rec, y.data(), n, 10'000);
  EXPECT_LT(rerun, n / 4) << "the fix-up re-ran most of the signal: speculation never coalesced";
}

namespace {

// The GPU's fix-up (kernels/cuda/dynamics.cu) run on the CPU through the same dsp functions:
// speculate every chunk, then rounds of refine_chunk from snapshots until a round changes nothing.
template <class R>
int run_in_rounds(const R& rec, typename R::Value* y, int64_t n, int64_t chunk) {
  using V = typename R::Value;
  const int64_t chunks = (n + chunk - 1) / chunk;
  for (int64_t c = 0; c < chunks; ++c) lq::dsp::speculate_chunk(rec, y, c * chunk, std::min(n, (c + 1) * chunk));
  std::vector<V> ends(static_cast<size_t>(chunks * R::order));
  for (int rounds = 1;; ++rounds) {
    for (int64_t c = 0; c + 1 < chunks; ++c)
      lq::dsp::chunk_end_state<R>(y, (c + 1) * chunk, &ends[static_cast<size_t>(c * R::order)]);
    bool changed = false;
    for (int64_t c = chunks - 1; c >= 1; --c) {  // any order: each chunk reads only the snapshot
      changed |= lq::dsp::refine_chunk(rec, y, c * chunk, std::min(n, (c + 1) * chunk),
                                       &ends[static_cast<size_t>((c - 1) * R::order)]);
    }
    if (!changed) return rounds;
  }
}

}  // namespace

TEST(ChunkedRecurrence, ParallelFixupRoundsEqualSequentialLoop) {
  const int64_t n = 60'000;
  const auto x = bursty_noise(n, 5);
  const Smoother smoother{x.data(), 0.9f, 0.9995f};
  std::vector<float> ref(static_cast<size_t>(n));
  lq::cpu::run_sequential(smoother, ref.data(), n);
  for (int64_t chunk : {2, 3, 100, 4096, 8192, 59'999}) {
    std::vector<float> y(static_cast<size_t>(n), -1.0f);
    const int rounds = run_in_rounds(smoother, y.data(), n, chunk);
    EXPECT_TRUE(lq::test::bit_equal(y, ref)) << "chunk " << chunk;
    EXPECT_LE(rounds, (n + chunk - 1) / chunk) << "chunk " << chunk;
  }
  const Biquad biquad{x.data(), 1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621};
  std::vector<double> bref(static_cast<size_t>(n));
  lq::cpu::run_sequential(biquad, bref.data(), n);
  for (int64_t chunk : {2, 7, 4800, 30'001}) {
    std::vector<double> y(static_cast<size_t>(n), 123.0);
    run_in_rounds(biquad, y.data(), n, chunk);
    EXPECT_TRUE(lq::test::bit_equal(y, bref)) << "chunk " << chunk;
  }
}
