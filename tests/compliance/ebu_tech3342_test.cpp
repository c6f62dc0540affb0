// EBU Tech 3342 (v4, Table 1) loudness range of the meter (host/loudness.hpp) on the synthesisable
// cases 1-4 at 48 kHz within +-1 LU, and the text's repetition property: "the expected response is
// unchanged if the test signal is repeated one or more times in its full length".
#include <gtest/gtest.h>

#include "host/loudness.hpp"
#include "reference/ebu_signals.hpp"

namespace {

constexpr double kFs = 48000.0;
constexpr double kExpectedLu[] = {10.0, 5.0, 20.0, 15.0};  // cases 1-4

lq::cpu::ThreadPool& pool() {
  static lq::cpu::ThreadPool p(2);
  return p;
}

}  // namespace

TEST(EbuTech3342, Cases1To4LoudnessRangeIsWithinOneLu) {
  for (int number = 1; number <= 4; ++number) {
    const auto m = lq::measure_loudness(lq::test::tech3342_case(number, kFs), pool());
    EXPECT_NEAR(m.loudness_range_lu, kExpectedLu[number - 1], 1.0) << "case " << number;
  }
}

TEST(EbuTech3342, Cases1To4LoudnessRangeIsUnchangedWhenTheSignalIsRepeated) {
  for (int number = 1; number <= 4; ++number) {
    const auto once = lq::test::tech3342_case(number, kFs);
    const double lra1 = lq::measure_loudness(once, pool()).loudness_range_lu;
    for (int times : {2, 3}) {
      const double lra = lq::measure_loudness(lq::test::repeat(once, times), pool()).loudness_range_lu;
      EXPECT_NEAR(lra, lra1, 0.1) << "case " << number << " repeated x" << times;
    }
  }
}

TEST(EbuTech3342, SteadyToneHasZeroRangeAndQuietPartsBelowTheGatesDoNotCount) {
  // A steady tone: every short-term value is the same.
  const auto steady = lq::test::tone_sequence(std::vector<lq::test::ToneSegment>{{20.0, -20.0}}, kFs);
  EXPECT_NEAR(lq::measure_loudness(steady, pool()).loudness_range_lu, 0.0, 1e-9);
  // -20 then -45 dBFS: the quiet half is more than 20 LU below the power mean of the short-term
  // values (about -23 LUFS), so the relative gate removes it; ungated, P10 would sit in it (~25 LU).
  const auto rel =
      lq::test::tone_sequence(std::vector<lq::test::ToneSegment>{{20.0, -20.0}, {20.0, -45.0}}, kFs);
  EXPECT_LT(lq::measure_loudness(rel, pool()).loudness_range_lu, 3.0);
  // -60 then -75 dBFS: the relative gate (about -83 LUFS) keeps the quiet half, the absolute gate
  // (-70 LUFS) removes it; ungated, the range would be about 15 LU.
  const auto abs = lq::test::tone_sequence(
      std::vector<lq::test::ToneSegment>{{20.0, -60.0}, {20.0, -75.0}, {10.0, -HUGE_VAL}}, kFs);
  EXPECT_LT(lq::measure_loudness(abs, pool()).loudness_range_lu, 3.0);
}
