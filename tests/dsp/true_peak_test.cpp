// The vectorisable true-peak scan equals the per-position definition bit for bit, edges included.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/dsp/true_peak.hpp"
#include "kernels/cpu/true_peak_range.hpp"
#include "support/expect_close.hpp"

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
