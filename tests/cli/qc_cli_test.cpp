// `lacquer qc`: delivery checks of existing masters. Its loudness and true peak of a master Lacquer
// rendered agree with the render's own report and with libebur128; a bright, hard-limited master
// at -1 dBTP overshoots its ceiling once through AAC (the codec round trip sees it, and so does
// the `ffmpeg` command line encoding and decoding the same master, read back with libsndfile and
// measured with libebur128), which fails the check with its reason; wrong arguments are usage
// errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/libebur128_meter.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kRate = 48000;

// A bright master: white noise, 8 s, rendered to `target` LUFS under -1 dBTP (hard limiting),
// 24-bit. At -6 (more than the ceiling lets it reach: about -6.8) every codec overshoots it by
// 0.5 dB or more whatever the noise's seed; at -8 some seeds' AAC stays under.
fs::path bright_master(const fs::path& dir, double target = -8.0) {
  std::mt19937 rng(lq::test::test_seed());
  std::normal_distribution<double> g(0.0, 0.2);
  std::vector<std::vector<float>> x(2, std::vector<float>(8 * kRate));
  for (auto& c : x) {
    for (auto& v : c) v = static_cast<float>(g(rng));
  }
  lq::test::write_audio_file(dir / "noise.wav", x, kRate);
  lq::test::write_text_file(dir / "bright.toml", "[stems.noise]\nfile = \"noise.wav\"\ngroup = \"music\"\n\n[master]\n"
                                                 "target_lufs = " + std::to_string(target) +
                                                 "\nceiling_dbtp = -1.0\nmax_limiting_db = 30.0\n");
  const auto r = lq::test::run_lacquer({"render", (dir / "bright.toml").string(), "-o", (dir / "bright.wav").string(), "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir / "bright.wav";
}

double dbtp(const lq::test::DecodedFile& f) { return 20.0 * std::log10(lq::test::libebur128_true_peak(f)); }

}  // namespace

TEST(Qc, AgreesWithTheRendersReportAndWithLibebur128) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path master = bright_master(dir);
  const json report = json::parse(lq::test::read_text_file(dir / "bright.json"));
  const auto r = lq::test::run_lacquer({"qc", master.string(), "--json", "--target-lufs", "-8", "--ceiling-dbtp", "-1"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const json q = json::parse(r.out).at(0);
  const json& after = report.at("master").at("after");
  EXPECT_NEAR(q.at("integrated_lufs").get<double>(), after.at("integrated_lufs").get<double>(), 1e-6);
  EXPECT_NEAR(q.at("true_peak_dbtp").get<double>(), after.at("true_peak_dbtp").get<double>(), 1e-6);
  EXPECT_NEAR(q.at("true_peak_bound_dbtp").get<double>(), after.at("true_peak_bound_dbtp").get<double>(), 0.01);
  EXPECT_NEAR(q.at("loudness_range_lu").get<double>(), after.at("loudness_range_lu").get<double>(), 1e-6);
  const auto file = lq::test::read_audio_file(master);
  EXPECT_NEAR(q.at("integrated_lufs").get<double>(), lq::test::libebur128_integrated(file), 0.05);
  // libebur128's interpolator is not Annex 2's: on noise flat to Nyquist up to about 0.2 dB apart.
  EXPECT_NEAR(q.at("true_peak_dbtp").get<double>(), dbtp(file), 0.25);
  EXPECT_TRUE(q.at("passed").get<bool>());
  // Off the target by more than the tolerance: exit 1, saying why.
  const auto off = lq::test::run_lacquer({"qc", master.string(), "--target-lufs", "-14"});
  EXPECT_EQ(off.exit_code, 1);
  EXPECT_NE(off.out.find("is not within 0.5"), std::string::npos) << off.out;
}

TEST(Qc, AacOvershootsABrightLimitedMasterAndTheCheckSaysSo) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path master = bright_master(dir, -6.0);
  const auto r = lq::test::run_lacquer({"qc", master.string(), "--json", "--codecs", "aac_256,mp3_320,opus_160",
                                        "--ceiling-dbtp", "-1"});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  const json q = json::parse(r.out).at(0);
  ASSERT_EQ(q.at("codecs").size(), 3u);
  const json& aac = q["codecs"][0];
  EXPECT_EQ(aac.at("codec"), "aac_256");
  const double aac_peak = aac.at("decoded_annex2_true_peak_dbtp").get<double>();
  EXPECT_GT(aac_peak, -1.0 + 0.1) << "AAC should overshoot a hard-limited bright master";
  EXPECT_FALSE(aac.at("holds").get<bool>());
  // White noise loses its top octave's energy through AAC (0.7 LU here): a loss, never a gain.
  EXPECT_LT(aac.at("loudness_change_lu").get<double>(), 0.1);
  EXPECT_GT(aac.at("loudness_change_lu").get<double>(), -2.0);
  bool named = false;
  for (const auto& p : q.at("problems")) named = named || p.get<std::string>().find("aac_256 decodes to") != std::string::npos;
  EXPECT_TRUE(named) << q.dump();
  // The ffmpeg command line, with the same encoder and rate, decoded by ffmpeg to a float WAV and
  // read with libsndfile: libebur128 sees the overshoot too, within 0.5 dB of the round trip's.
  const std::string enc = "ffmpeg -nostdin -v error -y -i '" + master.string() + "' -c:a aac -b:a 256k '" +
                          (dir / "x.m4a").string() + "' && ffmpeg -nostdin -v error -y -i '" + (dir / "x.m4a").string() +
                          "' -c:a pcm_f32le '" + (dir / "x.wav").string() + "'";
  ASSERT_EQ(std::system(enc.c_str()), 0) << enc;
  const double ffmpeg_peak = dbtp(lq::test::read_audio_file(dir / "x.wav"));
  EXPECT_GT(ffmpeg_peak, -1.0);
  EXPECT_NEAR(ffmpeg_peak, aac_peak, 0.5);
}

TEST(Qc, UnknownCodecsAndMissingFilesAreReported) {
  const fs::path dir = lq::test::fresh_dir();
  const auto bad = lq::test::run_lacquer({"qc", (dir / "x.wav").string(), "--codecs", "aac_9999"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("aac_9999: not a codec check"), std::string::npos) << bad.err;
  const auto missing = lq::test::run_lacquer({"qc", (dir / "nothing.wav").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nothing.wav"), std::string::npos) << missing.err;
}
