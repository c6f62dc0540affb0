// The true-peak ceiling on a delivered 16-bit dithered master, in the fast suite: renders of stems
// that break 4x detection (the slow tests/cli/true_peak_ceiling_cli_test.cpp runs 200). What each
// render must show (docs/algorithms.md "The verify"):
// - the report's reconstruction bound is at or under the ceiling (it is the level the dips aim at
//   less what quantisation can add, so a dip level above the ceiling reads over it);
// - the float64 ideal reconstruction of the file (tests/reference/reconstruction.hpp) is at or
//   under that bound, and the bound is true;
// - libebur128's and libswresample's true peak of the file are at or under the ceiling;
// - the limiter kept room for everything quantisation can add to its readings: its ceiling
//   (report: limiter.effective_ceiling_dbtp) is at most the ceiling less 1.5 LSB (TPDF dither of
//   +-1 LSB and rounding of 1/2) through the largest sum of |taps| of any phase of its readings. The
//   verify's dips (1e-4 of the ceiling under it) leave these meters room too at 16 bits, so without
//   this check a limiter that kept too little room would go unseen until a lower ceiling or a
//   reading that the dips do not reach.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "kernels/cpu/dynamics.hpp"
#include "reference/reconstruction.hpp"
#include "support/hot_stems.hpp"
#include "support/libebur128_meter.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;


TEST(TruePeakDelivered, SixteenBitDitheredMastersReadUnderTheCeilingOnEveryMeter) {
  std::mt19937 rng(7);
  const fs::path dir = lq::test::fresh_dir();
  const double ceiling = -1.0;
  int dipped = 0;
  for (int i = 0; i < 10; ++i) {
    const int kind = i % 5;
    auto x = lq::test::hot_stem(kind, rng, 4000);
    if (i >= 5) {
      for (auto& c : x) {
        const auto y = lq::test::low_pass(std::vector<double>(c.begin(), c.end()), 0.49);
        c.assign(y.begin(), y.end());
      }
    }
    lq::test::write_audio_file(dir / "x.wav", x, 48000);
    lq::test::write_text_file(dir / "s.toml", "[stems.x]\nfile = \"x.wav\"\ngroup = \"g\"\n[master]\nbit_depth = 16\n"
                                              "ceiling_dbtp = -1.0\ntail_s = 0.0\n");
    const auto r = lq::test::run_lacquer({"render", (dir / "s.toml").string(), "-o", (dir / "m.wav").string(), "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto report = nlohmann::json::parse(lq::test::read_text_file(dir / "m.json"));
    const auto& after = report.at("master").at("after");
    const double bound = after.at("true_peak_bound_dbtp").get<double>();
    const auto out = lq::test::read_audio_file(dir / "m.wav");
    double ref = 0.0;
    for (const auto& c : out.channels) ref = std::max(ref, lq::test::reconstruction_peak(c));
    SCOPED_TRACE("render " + std::to_string(i) + ", kind " + std::to_string(kind));
    EXPECT_LE(bound, ceiling) << "the report's reconstruction bound";
    EXPECT_LE(20.0 * std::log10(ref), bound + 1e-6) << "the ideal reconstruction under the report's bound";
    EXPECT_LE(20.0 * std::log10(lq::test::libebur128_true_peak(out)), ceiling) << "libebur128";
    EXPECT_LE(20.0 * std::log10(lq::test::libswresample_true_peak(out, 32)), ceiling) << "libswresample (ffmpeg)";
    const double room = 1.5 * std::ldexp(1.0, 1 - 16) * lq::cpu::limiter_detector_error_gain();
    EXPECT_LE(report.at("master").at("limiter").at("effective_ceiling_dbtp").get<double>(),
              20.0 * std::log10(std::pow(10.0, ceiling / 20.0) - room) + 1e-9)
        << "the limiter's room for quantisation";
    dipped += report.at("master").at("limiter").at("reconstruction_dips").get<int64_t>() > 0;
  }
  RecordProperty("renders_with_dips", dipped);
}
