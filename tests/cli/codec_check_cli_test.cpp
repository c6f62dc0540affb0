// Codec checks in the render (`codec_check`, `codec_ceiling_dbtp`, `codec_export`): a bright,
// hard-limited master at -1 dBTP (white noise pushed towards -6 LUFS: each codec overshoots it by
// 0.5 dB or more whatever the seed) overshoots through AAC, MP3 and Opus; the render lowers the
// limiter's ceiling until every declared codec holds, and the files it exports, decoded by the
// `ffmpeg` command line (not Lacquer's module) and read with libsndfile, peak under the ceiling
// as libswresample's and libebur128's meters read them. A check that holds at once changes no
// byte of the master, a deliverable without checks is byte-identical to a render without any, and
// a ceiling no codec can meet fails with its reason and leaves nothing behind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
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

// White noise, `seconds` long, as the stem of a session whose [master] is `master` (TOML lines).
fs::path noise_session(const fs::path& dir, int seconds, const std::string& master, const std::string& extra = "") {
  std::mt19937 rng(lq::test::test_seed());
  std::normal_distribution<double> g(0.0, 0.2);
  std::vector<std::vector<float>> x(2, std::vector<float>(size_t(seconds) * kRate));
  for (auto& c : x) {
    for (auto& v : c) v = static_cast<float>(g(rng));
  }
  lq::test::write_audio_file(dir / "noise.wav", x, kRate);
  const fs::path s = dir / "s.toml";
  lq::test::write_text_file(s, "[stems.noise]\nfile = \"noise.wav\"\ngroup = \"music\"\n\n[master]\n" + master + extra);
  return s;
}

// `file` decoded by the ffmpeg command line to a float WAV, read with libsndfile.
lq::test::DecodedFile ffmpeg_decode(const fs::path& file) {
  const fs::path wav = file.string() + ".decoded.wav";
  const std::string cmd = "ffmpeg -nostdin -v error -y -i '" + file.string() + "' -c:a pcm_f32le '" + wav.string() + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return lq::test::read_audio_file(wav);
}

double db(double x) { return 20.0 * std::log10(x); }

}  // namespace

TEST(CodecCheck, LowersTheCeilingUntilAacMp3AndOpusHoldAndTheExportedFilesSayTheSame) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path s = noise_session(dir, 8,
                                   "target_lufs = -6.0\nceiling_dbtp = -1.0\nmax_limiting_db = 30.0\n"
                                   "codec_check = [\"aac_256\", \"mp3_320\", \"opus_160\"]\ncodec_export = true\n");
  const auto r = lq::test::run_lacquer({"render", s.string(), "-o", (dir / "m.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("codecs    decoded peaks aac_256"), std::string::npos) << r.out;
  const json report = json::parse(lq::test::read_text_file(dir / "m.json"));
  const json& c = report.at("master").at("codecs");
  EXPECT_EQ(c.at("ceiling_dbtp").get<double>(), -1.0);
  EXPECT_EQ(report.at("master").at("ceiling_dbtp").get<double>(), -1.0);
  // The first round, at the master's own ceiling: AAC, MP3 and Opus each overshoot it.
  const json& first = c.at("history").at(0);
  EXPECT_EQ(first.at("limiter_ceiling_dbtp").get<double>(), -1.0);
  for (const auto& k : first.at("checks")) {
    EXPECT_FALSE(k.at("holds").get<bool>()) << first.dump(1);
    EXPECT_GT(k.at("decoded_true_peak_dbtp").get<double>(), -1.0 + 0.2) << k.at("codec");
  }
  // The last: every codec holds, with the limiter lower; rounds and history agree.
  const int rounds = c.at("rounds").get<int>();
  ASSERT_GE(rounds, 2);
  ASSERT_EQ(c.at("history").size(), size_t(rounds));
  EXPECT_LT(c.at("limiter_ceiling_dbtp").get<double>(), -1.0);
  EXPECT_EQ(c.at("checks"), c.at("history").at(rounds - 1).at("checks"));
  const double master_peak = report.at("master").at("after").at("true_peak_bound_dbtp").get<double>();
  EXPECT_LE(master_peak, c.at("limiter_ceiling_dbtp").get<double>() + 0.01);
  ASSERT_EQ(c.at("checks").size(), 3u);
  ASSERT_EQ(c.at("exported").size(), 3u);
  const char* extension[] = {"m4a", "mp3", "opus"};
  for (size_t i = 0; i < 3; ++i) {
    const json& k = c["checks"][i];
    SCOPED_TRACE(k.at("codec").get<std::string>());
    EXPECT_TRUE(k.at("holds").get<bool>());
    EXPECT_LE(k.at("decoded_true_peak_dbtp").get<double>(), -1.0 + 0.01);
    EXPECT_LE(k.at("decoded_annex2_true_peak_dbtp").get<double>(), -1.0);
    EXPECT_LE(k.at("decoded_detector_peak_dbtp").get<double>(), -1.0);
    // The exported file, as another decoder reads it: the same peak Lacquer's round trip measured
    // (within what its decoder's resampling and edge handling differ by), under the ceiling.
    const fs::path file = dir / ("m." + k.at("codec").get<std::string>() + "." + extension[i]);
    ASSERT_TRUE(fs::exists(file));
    EXPECT_EQ(c["exported"][i].at("path").get<std::string>(), fs::absolute(file).string());
    const auto decoded = ffmpeg_decode(file);
    EXPECT_EQ(decoded.channels.size(), 2u);
    EXPECT_GT(double(decoded.channels[0].size()), 7.9 * decoded.sample_rate);
    // ffmpeg's own true-peak reading (libswresample at 192 kHz) and libebur128's are under the
    // ceiling, as the check's detector (which models both) read them, within 0.01 dB.
    const double swr = db(lq::test::libswresample_true_peak(decoded, 64));
    const double ebu = db(lq::test::libebur128_true_peak(decoded));
    EXPECT_LE(swr, -1.0 + 0.01);
    EXPECT_LE(ebu, -1.0 + 0.01);
    EXPECT_LE(std::max(swr, ebu), k.at("decoded_detector_peak_dbtp").get<double>() + 0.01);
    // Its loudness, as libebur128 reads it, is the report's.
    EXPECT_NEAR(lq::test::libebur128_integrated(decoded), k.at("integrated_lufs").get<double>(), 0.05);
  }
}

TEST(CodecCheck, AChecksThatHoldsAtOnceAndADeliverableWithoutChecksChangeNoByte) {
  const fs::path dir = lq::test::fresh_dir();
  const std::string master = "target_lufs = -20.0\nceiling_dbtp = -1.0\n";
  const std::string deliverable = "\n[deliverables.cd]\nbit_depth = 16\nsample_rate = 44100\n";
  const fs::path plain = noise_session(dir, 4, master, deliverable);
  fs::rename(plain, dir / "plain.toml");
  const fs::path checked = noise_session(dir, 4, master + "codec_check = [\"aac_256\", \"opus_160\"]\n",
                                         deliverable + "codec_check = []\n");
  auto run = lq::test::run_lacquer({"render", (dir / "plain.toml").string(), "-o", (dir / "plain.wav").string(), "-q"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = lq::test::run_lacquer({"render", checked.string(), "-o", (dir / "checked.wav").string(), "-q"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json a = json::parse(lq::test::read_text_file(dir / "plain.json"));
  const json b = json::parse(lq::test::read_text_file(dir / "checked.json"));
  EXPECT_FALSE(a.at("master").contains("codecs"));
  ASSERT_TRUE(b.at("master").contains("codecs"));
  EXPECT_EQ(b["master"]["codecs"].at("rounds").get<int>(), 1);
  EXPECT_EQ(a.at("output").at("xxh3_128"), b.at("output").at("xxh3_128"));
  EXPECT_EQ(lq::test::read_text_file(dir / "plain.wav"), lq::test::read_text_file(dir / "checked.wav"));
  EXPECT_EQ(lq::test::read_text_file(dir / "plain-cd.wav"), lq::test::read_text_file(dir / "checked-cd.wav"));
  EXPECT_FALSE(b.at("deliverables").at(0).contains("codecs"));
  // No file was exported: none was asked for.
  for (const auto& f : lq::test::list_dir(dir)) {
    EXPECT_EQ(f.find(".aac_256."), std::string::npos) << f;
  }
  // The checks are part of the session's hash (a batch re-renders when they change).
  EXPECT_NE(a.at("session").at("hash"), b.at("session").at("hash"));
}

TEST(CodecCheck, ACeilingNoCodecCanMeetFailsWithItsReasonAndLeavesNothing) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path s = noise_session(dir, 3,
                                   "target_lufs = -6.0\nceiling_dbtp = -1.0\nmax_limiting_db = 30.0\n"
                                   "codec_check = [\"aac_256\"]\ncodec_ceiling_dbtp = -20.0\ncodec_export = true\n");
  // The first round overshoots -1 dBTP (as above): holding -20 would take the limiter under its
  // floor of -20 dBTP.
  const auto before = lq::test::list_dir(dir);
  const auto r = lq::test::run_lacquer({"render", s.string(), "-o", (dir / "m.wav").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("m.wav"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("aac_256 decodes to a true peak"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the codecs cannot be held"), std::string::npos) << r.err;
  EXPECT_EQ(lq::test::list_dir(dir), before);
}

TEST(CodecCheck, BadSettingsAreNamedWithTheirLine) {
  const fs::path dir = lq::test::fresh_dir();
  struct Case {
    std::string master, says;
  };
  const Case cases[] = {
      {"codec_check = [\"aac_999\"]\n", "'aac_999' is not a codec check"},
      {"codec_check = [\"flac_256\"]\n", "'flac_256' is not a codec check"},
      {"codec_check = [\"mp3_320\", \"mp3_320\"]\n", "'mp3_320' is named twice"},
      {"codec_check = [256]\n", "expected a codec name"},
      {"codec_check = \"aac_256\"\n", "expected an array of codec names"},
      {"codec_export = true\n", "no codec to export"},
      {"codec_check = [\"aac_256\"]\ncodec_ceiling_dbtp = 1.0\n", "out of range"},
  };
  for (const auto& c : cases) {
    const fs::path s = noise_session(dir, 1, c.master);
    const auto r = lq::test::run_lacquer({"render", s.string(), "-o", (dir / "m.wav").string()});
    EXPECT_NE(r.exit_code, 0) << c.master;
    EXPECT_NE(r.err.find("s.toml:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.master << " -> " << r.err;
    EXPECT_FALSE(fs::exists(dir / "m.wav"));
  }
}

TEST(CodecCheck, TheSameBytesOutWhateverTheThreadCount) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path s = noise_session(dir, 3,
                                   "target_lufs = -9.0\nceiling_dbtp = -1.0\nmax_limiting_db = 30.0\n"
                                   "codec_check = [\"aac_256\", \"vorbis_320\"]\ncodec_export = true\n");
  std::vector<std::string> files[2];
  for (int k = 0; k < 2; ++k) {
    std::string name = "t";
    name += std::to_string(k);  // (not "t" + ...: GCC 12's -Wrestrict false positive)
    const fs::path out = dir / name;
    fs::create_directory(out);
    const auto r = lq::test::run_lacquer(
        {"render", s.string(), "-o", (out / "m.wav").string(), "-q", "--threads", k == 0 ? "1" : "3"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* f : {"m.wav", "m.aac_256.m4a", "m.vorbis_320.ogg"}) files[k].push_back(lq::test::read_text_file(out / f));
  }
  for (size_t i = 0; i < files[0].size(); ++i) EXPECT_TRUE(files[0][i] == files[1][i]) << i;
}

TEST(CodecCheck, AnExportOrAPageNamedLikeAnInputIsRefusedBeforeAnyWork) {
  const fs::path dir = lq::test::fresh_dir();
  // The stem's file is where the master's AAC export would go, then where its page would go.
  for (const char* stem : {"m.aac_256.m4a", "m.html"}) {
    const fs::path s = noise_session(dir, 1, "codec_check = [\"aac_256\"]\ncodec_export = true\n");
    std::string text = lq::test::read_text_file(s);
    text.replace(text.find("noise.wav"), 9, stem);
    lq::test::write_text_file(s, text);
    fs::copy_file(dir / "noise.wav", dir / stem, fs::copy_options::overwrite_existing);
    const std::string before = lq::test::read_text_file(dir / stem);
    const auto r = lq::test::run_lacquer({"render", s.string(), "-o", (dir / "m.wav").string(), "--html"});
    EXPECT_NE(r.exit_code, 0) << stem;
    EXPECT_NE(r.err.find(stem), std::string::npos) << r.err;
    EXPECT_EQ(lq::test::read_text_file(dir / stem), before) << stem;
    EXPECT_FALSE(fs::exists(dir / "m.wav"));
  }
}
