// `lacquer render` end to end, run as a user runs it: the chain's promises on small sessions.
#include <gtest/gtest.h>

#include <sndfile.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <random>

#include <nlohmann/json.hpp>

#include "host/files.hpp"
#include "host/loudness.hpp"
#include "kernels/cpu/dynamics.hpp"
#include "kernels/cpu/reconstruction_peak.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "support/expect_close.hpp"
#include "support/libebur128_meter.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::test::run_lacquer;
using lq::test::write_audio_file;
using lq::test::write_text_file;

namespace {

constexpr int kRate = 48000;

// A drum-like, a bass-like and a pad-like stereo stem, `seconds` long, deterministic.
std::vector<std::vector<std::vector<float>>> make_stems(double seconds, float level = 0.2f) {
  const auto n = static_cast<size_t>(seconds * kRate);
  std::mt19937 rng(42);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<std::vector<std::vector<float>>> stems(3, std::vector<std::vector<float>>(2, std::vector<float>(n)));
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / kRate;
    const double beat = std::fmod(t, 0.5);
    const float hit = static_cast<float>(std::exp(-beat * 30.0));
    stems[0][0][i] = level * hit * noise(rng);
    stems[0][1][i] = level * hit * noise(rng);
    const float bass = level * static_cast<float>(std::sin(2 * std::numbers::pi * 55.0 * t));
    stems[1][0][i] = bass;
    stems[1][1][i] = bass;
    stems[2][0][i] = 0.5f * level * static_cast<float>(std::sin(2 * std::numbers::pi * 440.0 * t));
    stems[2][1][i] = 0.5f * level * static_cast<float>(std::sin(2 * std::numbers::pi * 660.0 * t));
  }
  return stems;
}

void write_stems(const fs::path& dir, const std::vector<std::vector<std::vector<float>>>& stems) {
  const char* names[] = {"drums.wav", "bass.wav", "pad.wav"};
  for (size_t s = 0; s < stems.size(); ++s) write_audio_file(dir / names[s], stems[s], kRate);
}

// A small decaying-noise stereo impulse response.
void write_ir(const fs::path& path, double seconds) {
  const auto n = static_cast<size_t>(seconds * kRate);
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<std::vector<float>> ir(2, std::vector<float>(n));
  for (size_t i = 0; i < n; ++i) {
    const float env = 0.05f * static_cast<float>(std::exp(-double(i) / (0.15 * kRate)));
    ir[0][i] = env * noise(rng);
    ir[1][i] = env * noise(rng);
  }
  write_audio_file(path, ir, kRate);
}

const char* kFullSession = R"(
[master]
target_lufs = -14.0
ceiling_dbtp = -1.0
bit_depth = 24
eq = [ { type = "high_shelf", freq_hz = 8000.0, gain_db = 1.0 } ]

[groups.drums]
compressor = { threshold_db = -20.0, ratio = 3.0, attack_ms = 5.0, release_ms = 80.0 }
width = 1.2

[groups.music]
eq = [ { type = "bell", freq_hz = 400.0, gain_db = -2.0, q = 1.0 } ]

[reverbs.room]
ir = "ir.wav"
predelay_ms = 12.0

[stems.drums]
file = "drums.wav"
group = "drums"
eq = [ { type = "high_pass", freq_hz = 40.0, slope_db_per_oct = 24 } ]
compressor = { threshold_db = -18.0, ratio = 4.0, attack_ms = 10.0, release_ms = 100.0 }
sends = [ { reverb = "room", level_db = -10.0 } ]

[stems.bass]
file = "bass.wav"
group = "bass"
gain_db = -2.0

[stems.pad]
file = "pad.wav"
group = "music"
pan = -0.3
sends = [ { reverb = "room", level_db = -6.0 } ]
)";

fs::path full_session(double seconds = 6.0) {
  const fs::path dir = lq::test::fresh_dir();
  write_stems(dir, make_stems(seconds));
  write_ir(dir / "ir.wav", 0.8);
  write_text_file(dir / "session.toml", kFullSession);
  return dir;
}

lq::AudioBuffer to_buffer(const lq::test::DecodedFile& f) {
  lq::AudioBuffer b;
  b.sample_rate = f.sample_rate;
  b.channels = f.channels;
  return b;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(lq::test::read_text_file(p)); }

}  // namespace

TEST(RenderCli, RendersAFullSessionToTheTargetUnderTheCeiling) {
  const fs::path dir = full_session();
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "master.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lq::test::read_audio_file(dir / "master.wav");
  // Loudness by an independent meter (libebur128).
  EXPECT_NEAR(lq::test::libebur128_integrated(out), -14.0, 0.1);
  // True peak by the meter that the ceiling is defined against, on the decoded file.
  lq::cpu::ThreadPool pool(1);
  const double tp_db = 20.0 * std::log10(lq::true_peak_linear(to_buffer(out), pool));
  EXPECT_LE(tp_db, -1.0);
  const auto report = read_json(dir / "master.json");
  EXPECT_NEAR(report["master"]["after"]["integrated_lufs"].get<double>(), -14.0, 0.1);
  EXPECT_LE(report["master"]["after"]["true_peak_dbtp"].get<double>(), -1.0);
  // The limiter's own reading (Annex 2 and the two 4x sincs) on the decoded file, as the limiter
  // computes it: at the ceiling within what 24-bit dither can move (1e-5 dB), never below Annex 2's,
  // and at most the report's (the verify's dips only lower it).
  std::vector<double> profile;
  const double detected_db = 20.0 * std::log10(lq::cpu::limiter_detector_profile(to_buffer(out), profile, pool));
  EXPECT_LE(detected_db, -1.0 + 1e-5);
  EXPECT_GE(detected_db, tp_db);
  EXPECT_LE(detected_db, report["master"]["limiter"]["detector_peak_dbtp"].get<double>() + 1e-4);
  // The reconstruction bound on the decoded file: within 0.01 dB of the ceiling, and the report's.
  const double bound_db = 20.0 * std::log10(lq::cpu::reconstruction_peak(to_buffer(out), pool));
  EXPECT_LE(bound_db, -1.0 + 0.01);
  EXPECT_LE(bound_db, report["master"]["after"]["true_peak_bound_dbtp"].get<double>() + 1e-9);
  EXPECT_EQ(report["groups"].size(), 3u);
  EXPECT_GT(report["master"]["tail_s"].get<double>(), 0.1) << "the reverb tail was not kept";
  EXPECT_EQ(out.channels[0].size(), report["master"]["frames"].get<size_t>());
}

// 16-bit dither moves readings by far more than the limiter's 1e-6 margin. The verify reads the
// reconstruction bound before quantisation with room for what quantisation can add, dips the gain
// around peaks over it, and limits again when Annex 2 still reads over on what is delivered
// (host/render.cpp): at every ceiling the file that lands meets both, and nothing else is left.
TEST(RenderCli, A16BitMasterMeetsTheCeilingOnAnnex2AndOnTheReconstructionAtEveryCeiling) {
  const fs::path dir = full_session();
  std::string text = lq::test::read_text_file(dir / "session.toml");
  text.replace(text.find("bit_depth = 24"), 14, "bit_depth = 16");
  write_text_file(dir / "session.toml", text);
  for (const char* ceiling : {"-0.5", "-3", "-6"}) {
    const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "master.wav").string(),
                                "--ceiling-dbtp", ceiling});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto report = read_json(dir / "master.json");
    const auto out = lq::test::read_audio_file(dir / "master.wav");
    EXPECT_EQ(report["master"]["bit_depth"].get<int>(), 16);
    lq::cpu::ThreadPool pool(1);
    const double tp = lq::true_peak_linear(to_buffer(out), pool);
    EXPECT_LE(20.0 * std::log10(tp), std::stod(ceiling));
    EXPECT_EQ(report["master"]["after"]["true_peak_dbtp"].get<double>(), 20.0 * std::log10(tp));
    const double bound = 20.0 * std::log10(lq::cpu::reconstruction_peak(to_buffer(out), pool));
    EXPECT_LE(bound, std::stod(ceiling) + 0.01);
    EXPECT_LE(bound, report["master"]["after"]["true_peak_bound_dbtp"].get<double>() + 1e-9) << "the report's bound holds";
    EXPECT_EQ(out.channels[0].size(), report["master"]["frames"].get<size_t>());
    for (const auto& e : fs::directory_iterator(dir)) {
      EXPECT_FALSE(lq::is_lacquer_temporary(e.path().filename().string())) << e.path();
    }
  }
}

TEST(RenderCli, OneAndTwoThreadsGiveByteIdenticalMasters) {
  const fs::path dir = full_session();
  const auto a = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "t1.wav").string(), "--threads", "1"});
  const auto b = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "t2.wav").string(), "--threads", "2"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(lq::test::read_text_file(dir / "t1.wav"), lq::test::read_text_file(dir / "t2.wav"));
}

TEST(RenderCli, NeutralSessionRendersThePlainSum) {
  const fs::path dir = lq::test::fresh_dir();
  const auto stems = make_stems(3.0, 0.05f);
  write_stems(dir, stems);
  write_text_file(dir / "session.toml", R"(
[master]
bit_depth = 32
ceiling_dbtp = 0.0
[stems.drums]
file = "drums.wav"
group = "a"
[stems.bass]
file = "bass.wav"
group = "b"
[stems.pad]
file = "pad.wav"
group = "a"
)");
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "sum.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lq::test::read_audio_file(dir / "sum.wav");
  ASSERT_EQ(out.channels.size(), 2u);
  for (size_t c = 0; c < 2; ++c) {
    std::vector<double> sum(stems[0][c].size());
    for (size_t i = 0; i < sum.size(); ++i) {
      sum[i] = double(stems[0][c][i]) + double(stems[1][c][i]) + double(stems[2][c][i]);
    }
    EXPECT_TRUE(lq::test::all_close(out.channels[c], sum, {1e-7, 0.0, "float32 sum of three stems"}));
  }
}

TEST(RenderCli, UnreachableTargetIsReportedAsAWarning) {
  const fs::path dir = full_session(4.0);
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "loud.wav").string(),
                              "--target-lufs", "-5", "--ceiling-dbtp", "-6"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir / "loud.json");
  ASSERT_FALSE(report["warnings"].empty());
  EXPECT_LE(report["master"]["after"]["true_peak_dbtp"].get<double>(), -6.0);
}

TEST(RenderCli, SilentMixIsRenderedWithoutANormalisationGain) {
  const fs::path dir = lq::test::fresh_dir();
  write_audio_file(dir / "silence.wav", {std::vector<float>(48000), std::vector<float>(48000)}, kRate);
  write_text_file(dir / "session.toml", "[master]\ntarget_lufs = -14.0\n[stems.s]\nfile = \"silence.wav\"\ngroup = \"music\"\n");
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "out.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir / "out.json");
  EXPECT_EQ(report["master"]["gain_applied_db"].get<double>(), 0.0);
  EXPECT_FALSE(report["warnings"].empty());
}

TEST(RenderCli, StemFolderIsGroupedByFileName) {
  const fs::path dir = lq::test::fresh_dir();
  const auto stems = make_stems(2.0);
  fs::create_directories(dir / "stems");
  write_audio_file(dir / "stems" / "Kick.wav", stems[0], kRate);
  write_audio_file(dir / "stems" / "bass_di.wav", stems[1], kRate);
  write_audio_file(dir / "stems" / "lead_vox.wav", {stems[2][0]}, kRate);
  write_audio_file(dir / "stems" / "keys.wav", stems[2], kRate);
  const auto r = run_lacquer({"render", (dir / "stems").string(), "-o", (dir / "m.flac").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir / "m.json");
  std::map<std::string, std::string> group_of;
  for (const auto& s : report["stems"]) group_of[s["name"].get<std::string>()] = s["group"].get<std::string>();
  EXPECT_EQ(group_of["Kick"], "drums");
  EXPECT_EQ(group_of["bass_di"], "bass");
  EXPECT_EQ(group_of["lead_vox"], "vocals");
  EXPECT_EQ(group_of["keys"], "music");
}

TEST(RenderCli, StemsOfOtherRatesAndLengthsAreConvertedAndPadded) {
  const fs::path dir = lq::test::fresh_dir();
  const auto stems = make_stems(2.0);
  write_audio_file(dir / "a.wav", stems[0], kRate);
  std::vector<std::vector<float>> short44(2, std::vector<float>(44100));
  for (size_t i = 0; i < 44100; ++i) short44[0][i] = short44[1][i] = 0.1f * static_cast<float>(std::sin(2 * std::numbers::pi * 1000.0 * double(i) / 44100.0));
  write_audio_file(dir / "b.wav", short44, 44100);
  write_text_file(dir / "session.toml", "[stems.a]\nfile = \"a.wav\"\ngroup = \"g\"\n[stems.b]\nfile = \"b.wav\"\ngroup = \"g\"\n[master]\nbit_depth = 32\n");
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "o.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lq::test::read_audio_file(dir / "o.wav");
  EXPECT_EQ(out.sample_rate, kRate);
  EXPECT_EQ(out.channels[0].size(), stems[0][0].size());
  const auto report = read_json(dir / "o.json");
  EXPECT_EQ(report["inputs"][1]["resampled_to"].get<double>(), double(kRate));
}

TEST(MeasureCli, ReadsTheCalibrationToneAtItsLevel) {
  const fs::path dir = lq::test::fresh_dir();
  // EBU Tech 3341 2.9: 1 kHz stereo, -18 dBFS peak in phase -> -18.0 LUFS (+-0.1; 1 kHz sits
  // on the K-filter's slope: exact theory is -17.99).
  std::vector<std::vector<float>> tone(2, std::vector<float>(10 * kRate));
  const double a = std::pow(10.0, -18.0 / 20.0);
  for (size_t i = 0; i < tone[0].size(); ++i) {
    tone[0][i] = tone[1][i] = static_cast<float>(a * std::sin(2 * std::numbers::pi * 1000.0 * double(i) / kRate));
  }
  write_audio_file(dir / "tone.wav", tone, kRate);
  const auto r = run_lacquer({"measure", (dir / "tone.wav").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j[0]["integrated_lufs"].get<double>(), -18.0, 0.1);
  EXPECT_NEAR(j[0]["true_peak_dbtp"].get<double>(), -18.0, 0.2);
}

TEST(RenderCli, AnEqTheDesignerCannotRealiseIsRefusedBeforeAnyAudio) {
  const fs::path dir = lq::test::fresh_dir();
  write_stems(dir, make_stems(1.0));
  // A 30 dB cut at 20 Hz, q 50, is 0.4 Hz wide: beyond the longest filter at 48 kHz.
  write_text_file(dir / "session.toml",
                  "[stems.bass]\nfile = \"bass.wav\"\ngroup = \"bass\"\n"
                  "eq = [ { type = \"bell\", freq_hz = 20.0, gain_db = -30.0, q = 50.0 } ]\n");
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "o.wav").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("session.toml: stems.bass.eq: the linear-phase EQ cannot follow these bands within 0.1 dB"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0.40 Hz wide"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "o.wav"));
  EXPECT_FALSE(fs::exists(dir / "o.json"));
}

// A low, narrow EQ needs a long filter (a 25 Hz bell at q 10: about 100,000 taps at 48 kHz): its
// latency is compensated exactly, so an impulse comes out as a symmetric response centred where it
// went in, and the report's realised error is under 0.1 dB.
TEST(RenderCli, ALongEqKeepsTheStemInPlace) {
  const fs::path dir = lq::test::fresh_dir();
  std::vector<std::vector<float>> x(1, std::vector<float>(96000, 0.0f));
  x[0][40000] = 0.25f;
  lq::test::write_audio_file(dir / "i.wav", x, 48000);
  write_text_file(dir / "session.toml",
                  "[stems.i]\nfile = \"i.wav\"\ngroup = \"g\"\n"
                  "eq = [ { type = \"bell\", freq_hz = 25.0, gain_db = 9.0, q = 10.0 } ]\n"
                  "[master]\nbit_depth = 32\ntail_s = 0.0\n");
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "o.wav").string(), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = read_json(dir / "o.json");
  EXPECT_GT(report["stems"][0]["eq"]["taps"].get<int>(), 65535);
  EXPECT_LE(report["stems"][0]["eq"]["max_error_db"].get<double>(), 0.1);
  const auto out = lq::test::read_audio_file(dir / "o.wav");
  const auto& y = out.channels[0];
  size_t peak = 0;
  for (size_t i = 0; i < y.size(); ++i) peak = std::fabs(y[i]) > std::fabs(y[peak]) ? i : peak;
  EXPECT_EQ(peak, 40000u);
  for (size_t k = 1; k < 30000; k += 7) EXPECT_NEAR(y[40000 + k], y[40000 - k], 1e-6) << k;
}
