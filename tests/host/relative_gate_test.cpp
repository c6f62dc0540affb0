// The BS.1770-4 relative gate (-10 LU under the absolutely gated mean), in the fast suite: two
// programmes whose quiet half sits just inside and just outside it. The loud half alone is the
// reference, so the K-weighting's response does not enter: with the quiet half 12 dB down the gated
// mean is 2.8 dB under the loud half and the quiet half (9.2 LU under it) counts, so the programme
// reads 10 log10((1 + 10^-1.2) / 2) = -2.74 LU against the loud half; 13.2 dB down it is 10.4 LU under
// and dropped, so the programme reads as the loud half. A gate at -9 LU (first) or -11 LU (second)
// reads the other way, by 2.7 LU. libebur128 (an implementation we did not write) reads the same.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "host/loudness.hpp"
#include "support/libebur128_meter.hpp"

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRate = 48000.0;

// `seconds` of a 1 kHz tone (phase-continuous, mono) whose level at time t is level_db(t) dBFS.
template <class Level>
lq::test::DecodedFile tone(double seconds, Level level_db) {
  lq::test::DecodedFile f;
  f.sample_rate = int(kRate);
  f.channels.assign(1, std::vector<float>(size_t(seconds * kRate)));
  for (size_t i = 0; i < f.channels[0].size(); ++i) {
    const double t = double(i) / kRate;
    f.channels[0][i] = static_cast<float>(std::pow(10.0, level_db(t) / 20.0) * std::sin(2.0 * kPi * 1000.0 * t));
  }
  return f;
}

// 10 s at `loud` dBFS, then 10 s at `loud - down`.
lq::test::DecodedFile programme(double loud, double down) {
  return tone(20.0, [=](double t) { return t < 10.0 ? loud : loud - down; });
}

lq::test::DecodedFile first_half(const lq::test::DecodedFile& f) {
  lq::test::DecodedFile h = f;
  h.channels[0].resize(h.channels[0].size() / 2);
  return h;
}

lq::LoudnessMeasurement measure(const lq::test::DecodedFile& f) {
  lq::AudioBuffer a(1, int64_t(f.channels[0].size()), f.sample_rate);
  a.channels = f.channels;
  lq::cpu::ThreadPool pool(2);
  return lq::measure_loudness(a, pool);
}

double ours(const lq::test::DecodedFile& f) { return measure(f).integrated_lufs; }

}  // namespace

TEST(RelativeGate, AQuietHalfNineLuUnderTheMeanCountsAndOneTenLuUnderDoesNot) {
  const double inside = -10.0 * std::log10(2.0 / (1.0 + std::pow(10.0, -1.2)));  // -2.74 LU
  const auto p12 = programme(-18.0, 12.0), p13 = programme(-18.0, 13.2);
  const double loud = ours(first_half(p12));
  // Within 0.1 LU: the blocks across the step count too (-0.06 LU).
  EXPECT_NEAR(ours(p12) - loud, inside, 0.1) << "12 dB down: inside the gate, counted";
  EXPECT_NEAR(ours(p13) - loud, 0.0, 0.1) << "13.2 dB down: outside the gate, dropped";
  const double lib_loud = lq::test::libebur128_integrated(first_half(p12));
  EXPECT_NEAR(lq::test::libebur128_integrated(p12) - lib_loud, inside, 0.1);
  EXPECT_NEAR(lq::test::libebur128_integrated(p13) - lib_loud, 0.0, 0.1);
}

// The absolute gate (-70 LUFS): a programme that sits whole between -70 and -60 LUFS is measured
// (a gate at -60 would leave nothing), as libebur128 measures it.
TEST(AbsoluteGate, AProgrammeAtMinus65LufsIsMeasured) {
  const auto quiet = programme(-62.0, 0.0);  // about -65 LUFS
  const auto m = measure(quiet);
  ASSERT_TRUE(m.integrated_defined);
  EXPECT_LT(m.integrated_lufs, -60.0);
  EXPECT_NEAR(m.integrated_lufs, lq::test::libebur128_integrated(quiet), 0.05);
}

// The loudness range's relative gate (-20 LU under the mean of the short-term values, EBU
// Tech 3342): 30 s at one level, 30 s 22.5 dB down, which puts the quiet half's short-term values
// 19.5 LU under their mean: counted, so the range is the step (22.5 LU); a gate at -19 LU would
// drop them and read a range near 0.
TEST(RangeGate, AQuietHalfNineteenAndAHalfLuUnderTheMeanIsInTheRange) {
  const auto f = tone(60.0, [](double t) { return t < 30.0 ? -18.0 : -40.5; });
  EXPECT_NEAR(measure(f).loudness_range_lu, 22.5, 0.5);
}

// The loudness range's percentiles (EBU Tech 3342: P95 - P10 of the gated short-term values, nearest
// rank). A 1 kHz tone whose level rises linearly in dB, 20 dB over 60 s: each 3 s window's mean
// power is the level at its end less a constant, so the short-term values every 100 ms (windows
// ending at 3.0, 3.1, ..., 63.0 s: n = 601) step evenly by 1/30 LU, all within the -20 LU gate, and
// the range is (rank(95) - rank(10)) / 30 with rank(p) = round((n - 1) p / 100) = 570 and 60:
// 17.0 LU. The 94th or 11th percentile reads 16.8 LU.
TEST(RangePercentiles, AnEvenRampReadsTheNinetyFifthLessTheTenthPercentile) {
  const auto f = tone(63.0, [](double t) { return -35.0 + t / 3.0; });
  EXPECT_NEAR(measure(f).loudness_range_lu, (570 - 60) / 30.0, 0.02);
}
