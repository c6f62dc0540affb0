// labels: gpu;slow
// Whole renders (lq::render) on the device backends against the CPU backend, each test on `cuda`
// (a GPU; skipped without one, a failure under LQ_REQUIRE_GPU=1) and on `cuda-host` (the same
// orchestration on the host executor, every machine): the demo song when its
// material is present, and five sessions that between them use every stage (plain sum; stem EQ
// and compressors, group compressor and width; a reverb to the master with normalisation; 44.1 kHz
// stems resampled to 48 kHz with a panned mono stem; heavy limiting). Output is 32-bit float so the
// samples compare before quantisation: every sample within 1e-5 of full scale, the report's
// loudness, peak and limiter figures within 0.01, the ceiling kept, and two CUDA renders of one
// session byte-identical (32-bit, and 24-bit with the session-keyed dither).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/backend.hpp"
#include "host/devices.hpp"
#include "host/render.hpp"
#include "host/session.hpp"
#include "kernels/dsp/common.hpp"
#include "support/expect_close.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using Channels = std::vector<std::vector<float>>;

namespace {

const lq::test::Tolerance kSampleTol{1e-5, 0.0, "cuFFT vs FFTW rounding / device libm"};
constexpr double kFigureTol = 0.01;  // LU, dB

enum class Kind { kDrums, kBass, kPad, kNoise };

// One stem of `seconds` (plus a random 1..999 frames) at `rate`, 1 or 2 channels, peaks near
// `level`: decaying noise hits at a random tempo, a low sine with a slow swell, two mid sines per
// side, or level-varying noise.
Channels make_stem(Kind kind, int channels, double seconds, int rate, float level, std::mt19937& rng) {
  const auto n = static_cast<size_t>(seconds * rate) + 1 + rng() % 999;
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double beat = 0.3 + 0.3 * u(rng), f_bass = 40.0 + 40.0 * u(rng);
  const double f_pad[2][2] = {{200.0 + 300.0 * u(rng), 500.0 + 400.0 * u(rng)}, {200.0 + 300.0 * u(rng), 500.0 + 400.0 * u(rng)}};
  Channels x(static_cast<size_t>(channels), std::vector<float>(n));
  double env = 1.0;
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / rate;
    if (kind == Kind::kNoise && i % static_cast<size_t>(rate / 4) == 0) env = 0.1 + 0.9 * u(rng);
    for (int c = 0; c < channels; ++c) {
      double v = 0.0;
      switch (kind) {
        case Kind::kDrums: v = 0.3 * std::exp(-std::fmod(t, beat) * 30.0) * g(rng); break;
        case Kind::kBass: v = (0.6 + 0.4 * std::sin(2.0 * std::numbers::pi * 0.5 * t)) * std::sin(2.0 * std::numbers::pi * f_bass * t); break;
        case Kind::kPad:
          v = 0.5 * (std::sin(2.0 * std::numbers::pi * f_pad[c][0] * t) + std::sin(2.0 * std::numbers::pi * f_pad[c][1] * t));
          break;
        case Kind::kNoise: v = 0.3 * env * g(rng); break;
      }
      x[size_t(c)][i] = static_cast<float>(level * v);
    }
  }
  return x;
}

// A stereo decaying-noise impulse response (two different channels), 0.05 at its start.
Channels make_ir(double seconds, int rate, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  const auto n = static_cast<size_t>(seconds * rate);
  Channels ir(2, std::vector<float>(n));
  for (size_t i = 0; i < n; ++i) {
    for (auto& c : ir) c[i] = static_cast<float>(0.05 * std::exp(-double(i) / (0.25 * rate)) * g(rng));
  }
  return ir;
}

// The session text with `encode` (the output format keys) put under [master], which the text must
// contain; "" when it does not.
std::string with_encode(const std::string& session, const std::string& encode) {
  const auto at = session.find("[master]\n");
  if (at == std::string::npos) return "";
  std::string s = session;
  s.insert(at + 9, encode + "\n");
  return s;
}

struct Rendered {
  Channels samples;
  int sample_rate = 0;
  json report;
};

Rendered render_on(const fs::path& session_file, const std::string& backend, const fs::path& output) {
  const lq::Session session = lq::load_session(session_file);
  lq::RenderOptions options;
  options.output = output;
  options.backend = backend;
  const lq::RenderResult r = lq::render(session, options);
  auto decoded = lq::test::read_audio_file(output);
  return {std::move(decoded.channels), decoded.sample_rate, r.report};
}

// A report figure at `path` (e.g. {"master", "after", "integrated_lufs"}): null when the report
// says undefined, discarded when the report has no such key.
json figure(const json& report, std::initializer_list<const char*> path) {
  const json* j = &report;
  for (const char* key : path) {
    if (!j->is_object() || !j->contains(key)) return json(json::value_t::discarded);
    j = &(*j)[key];
  }
  return *j;
}

void expect_figure_close(const json& cuda, const json& cpu, std::initializer_list<const char*> path) {
  std::string name;
  for (const char* key : path) {
    if (!name.empty()) name += '.';
    name += key;
  }
  const json a = figure(cuda, path), b = figure(cpu, path);
  ASSERT_FALSE(b.is_discarded()) << name << " is missing from the CPU report";
  if (b.is_null()) {
    EXPECT_TRUE(a.is_null()) << name << ": " << a.dump() << " on CUDA, undefined on the CPU";
    return;
  }
  ASSERT_TRUE(a.is_number() && b.is_number()) << name << ": " << a.dump() << " vs " << b.dump();
  EXPECT_NEAR(a.get<double>(), b.get<double>(), kFigureTol) << name;
}

// Byte comparison of two files without printing megabytes: sizes and the first differing offset,
// and whether it lies in a WAV PEAK chunk (libsndfile stamps the time of writing there).
::testing::AssertionResult same_bytes(const fs::path& a, const fs::path& b) {
  const std::string x = lq::test::read_text_file(a), y = lq::test::read_text_file(b);
  if (x == y) return ::testing::AssertionSuccess();
  const auto at = static_cast<size_t>(std::mismatch(x.begin(), x.end(), y.begin(), y.end()).first - x.begin());
  const size_t peak = x.find("PEAK");
  const bool in_peak = peak != std::string::npos && peak < 512 && at >= peak && at < peak + 16;
  return ::testing::AssertionFailure() << a.filename() << " (" << x.size() << " bytes) and " << b.filename() << " ("
                                       << y.size() << " bytes) first differ at byte " << at
                                       << (in_peak ? ", the PEAK chunk's timestamp (libsndfile's SFC_SET_ADD_PEAK_CHUNK)" : "");
}

// The true peak of a decoded output, by the CPU backend's meter (linear).
double true_peak_of(const Channels& samples, int rate) {
  lq::cpu::ThreadPool pool(0);
  lq::CpuBackend meter(pool);
  lq::AudioBuffer b;
  b.sample_rate = rate;
  b.channels = samples;
  return meter.true_peak_scan(b);
}

// The session files a comparison writes beside the stems (their paths are relative to them).
constexpr const char* kFloatSession = "render_parity_float.toml";
constexpr const char* kDitheredSession = "render_parity_dithered.toml";

// Renders `session` (written to session_dir with 32-bit float output) on both backends into
// out_dir and compares; then renders it once more on CUDA, and twice with 24-bit dithered output,
// for byte identity. Returns the CPU render's report (for session-specific checks).
json expect_backends_agree(const std::string& device_backend, const fs::path& session_dir, const std::string& session,
                           const fs::path& out_dir, bool also_24_bit = true) {
  const std::string float_text = with_encode(session, "bit_depth = 32");
  EXPECT_FALSE(float_text.empty()) << "the session text has no [master] table";
  if (float_text.empty()) return json();
  const fs::path float_session = session_dir / kFloatSession, dithered_session = session_dir / kDitheredSession;
  lq::test::write_text_file(float_session, float_text);
  const Rendered cpu = render_on(float_session, "cpu", out_dir / "cpu.wav");
  const Rendered cuda = render_on(float_session, device_backend, out_dir / "cuda.wav");

  EXPECT_EQ(figure(cpu.report, {"lacquer", "backend"}), "cpu");
  EXPECT_EQ(figure(cuda.report, {"lacquer", "backend"}), device_backend);
  EXPECT_EQ(figure(cuda.report, {"lacquer", "device_render"}), "whole song on the device");
  EXPECT_EQ(cuda.sample_rate, cpu.sample_rate);
  EXPECT_EQ(cuda.samples.size(), cpu.samples.size());
  for (size_t c = 0; c < std::min(cuda.samples.size(), cpu.samples.size()); ++c) {
    EXPECT_TRUE(lq::test::all_close(cuda.samples[c], cpu.samples[c], kSampleTol)) << "channel " << c;
  }
  for (const char* when : {"before", "after"}) {
    for (const char* key : {"integrated_lufs", "true_peak_dbtp", "loudness_range_lu"}) {
      expect_figure_close(cuda.report, cpu.report, {"master", when, key});
    }
  }
  expect_figure_close(cuda.report, cpu.report, {"master", "limiter", "max_gain_reduction_db"});
  expect_figure_close(cuda.report, cpu.report, {"master", "gain_applied_db"});

  const json ceiling = figure(cpu.report, {"master", "ceiling_dbtp"});
  EXPECT_TRUE(ceiling.is_number()) << "the report has no master.ceiling_dbtp";
  const double ceiling_linear = lq::dsp::db_to_linear(ceiling.is_number() ? ceiling.get<double>() : -1.0);
  EXPECT_LE(true_peak_of(cuda.samples, cuda.sample_rate), ceiling_linear) << "CUDA output over the ceiling";
  EXPECT_LE(true_peak_of(cpu.samples, cpu.sample_rate), ceiling_linear) << "CPU output over the ceiling";

  const Rendered again = render_on(float_session, device_backend, out_dir / "cuda_again.wav");
  EXPECT_EQ(again.samples.size(), cuda.samples.size());
  for (size_t c = 0; c < std::min(again.samples.size(), cuda.samples.size()); ++c) {
    EXPECT_TRUE(lq::test::bit_equal(again.samples[c], cuda.samples[c])) << "second CUDA render, channel " << c;
  }
  EXPECT_TRUE(same_bytes(out_dir / "cuda.wav", out_dir / "cuda_again.wav")) << "32-bit float";
  if (also_24_bit) {
    lq::test::write_text_file(dithered_session, with_encode(session, "bit_depth = 24\ndither = true"));
    const Rendered first = render_on(dithered_session, device_backend, out_dir / "cuda24.wav");
    render_on(dithered_session, device_backend, out_dir / "cuda24_again.wav");
    EXPECT_EQ(figure(first.report, {"master", "dither"}), "tpdf");
    EXPECT_TRUE(same_bytes(out_dir / "cuda24.wav", out_dir / "cuda24_again.wav")) << "24-bit, dithered";
    EXPECT_LE(true_peak_of(first.samples, first.sample_rate), ceiling_linear) << "24-bit CUDA output over the ceiling";
  }
  return cpu.report;
}

fs::path demo_dir() {
  const fs::path dir = lq::test::source_dir() / ".cache" / "demo";
  return fs::exists(dir / ".done") ? dir : fs::path();
}

class RenderParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda-host") return;
    std::string why;
    if (!lq::cuda_usable(&why)) {
      // On a machine that has a GPU (LQ_REQUIRE_GPU=1) a skip would read as a pass: fail instead.
      const char* required = std::getenv("LQ_REQUIRE_GPU");
      if (required && std::string(required) == "1") FAIL() << "LQ_REQUIRE_GPU=1 but no usable GPU: " << why;
      GTEST_SKIP() << "no usable GPU: " << why;
    }
  }
};

}  // namespace

TEST_P(RenderParity, TheDemoSongAgrees) {
  const fs::path demo = demo_dir();
  if (demo.empty()) GTEST_SKIP() << "no demo material in .cache/demo (scripts/fetch-demo.sh fetches it)";
  std::vector<fs::path> songs;
  for (const auto& e : fs::directory_iterator(demo / "songs")) songs.push_back(e.path());
  ASSERT_FALSE(songs.empty());
  std::sort(songs.begin(), songs.end());
  const fs::path song = songs.front();
  SCOPED_TRACE(song.string());
  // The demo session as scripts/demo.sh uses it, in the song's folder (its paths are relative).
  const std::string text = lq::test::read_text_file(lq::test::source_dir() / "scripts" / "demo_session.toml");
  std::string session;
  for (size_t from = 0; from < text.size();) {  // drop its bit_depth: expect_backends_agree sets it
    const size_t end = std::min(text.find('\n', from), text.size());
    const std::string line = text.substr(from, end - from);
    if (line.rfind("bit_depth", 0) != 0) session += line + "\n";
    from = end + 1;
  }
  // The session files sit in the song's folder (the demo session's paths are relative), removed
  // when done; the renders go to a fresh folder.
  struct Remove {
    std::vector<fs::path> files;
    ~Remove() {
      std::error_code ec;
      for (const auto& f : files) fs::remove(f, ec);
    }
  } remove_sessions{{song / kFloatSession, song / kDitheredSession}};
  expect_backends_agree(GetParam(), song, session, lq::test::fresh_dir(), /*also_24_bit=*/false);
}

TEST_P(RenderParity, NeutralSessionIsThePlainSumOnBothBackends) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "drums.wav", make_stem(Kind::kDrums, 2, 4.0, 48000, 0.1f, rng), 48000);
  lq::test::write_audio_file(dir / "bass.wav", make_stem(Kind::kBass, 2, 4.0, 48000, 0.1f, rng), 48000);
  lq::test::write_audio_file(dir / "pad.wav", make_stem(Kind::kPad, 2, 4.0, 48000, 0.1f, rng), 48000);
  expect_backends_agree(GetParam(), dir, R"(
[master]
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
)", dir);
  // No stage here touches the samples on the backend (the limiter leaves them under its ceiling
  // bit-identical): the two backends' masters are the same bits.
  const auto cpu = lq::test::read_audio_file(dir / "cpu.wav"), cuda = lq::test::read_audio_file(dir / "cuda.wav");
  ASSERT_EQ(cuda.channels.size(), cpu.channels.size());
  for (size_t c = 0; c < cpu.channels.size(); ++c) EXPECT_TRUE(lq::test::bit_equal(cuda.channels[c], cpu.channels[c]));
}

TEST_P(RenderParity, StemEqAndCompressorsWithAGroupCompressorAndWidthAgree) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "kick.wav", make_stem(Kind::kDrums, 2, 6.0, 48000, 0.6f, rng), 48000);
  lq::test::write_audio_file(dir / "bass.wav", make_stem(Kind::kBass, 2, 6.0, 48000, 0.4f, rng), 48000);
  lq::test::write_audio_file(dir / "keys.wav", make_stem(Kind::kPad, 2, 6.0, 48000, 0.3f, rng), 48000);
  expect_backends_agree(GetParam(), dir, R"(
[master]
[groups.drums]
width = 1.4
compressor = { threshold_db = -24.0, ratio = 3.0, knee_db = 6.0, attack_ms = 5.0, release_ms = 80.0 }
[groups.music]
width = 0.6
compressor = { threshold_db = -20.0, ratio = 2.0, stereo_link = 0.5, lookahead_ms = 3.0 }
[stems.kick]
file = "kick.wav"
group = "drums"
eq = [ { type = "high_pass", freq_hz = 40.0, slope_db_per_oct = 24 },
       { type = "bell", freq_hz = 60.0, gain_db = 3.0, q = 1.4 } ]
compressor = { threshold_db = -18.0, ratio = 4.0, attack_ms = 10.0, release_ms = 100.0 }
[stems.bass]
file = "bass.wav"
group = "music"
eq = [ { type = "low_shelf", freq_hz = 120.0, gain_db = 2.0 } ]
compressor = { threshold_db = -22.0, ratio = 6.0, knee_db = 12.0, attack_ms = 20.0, release_ms = 200.0, auto_makeup = true }
[stems.keys]
file = "keys.wav"
group = "music"
pan = 0.3
eq = [ { type = "high_shelf", freq_hz = 6000.0, gain_db = -3.0 }, { type = "notch", freq_hz = 1000.0, q = 4.0 } ]
)", dir);
}

TEST_P(RenderParity, ReverbSendReturningToTheMasterWithNormalisationAgrees) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "drums.wav", make_stem(Kind::kDrums, 2, 5.0, 48000, 0.5f, rng), 48000);
  lq::test::write_audio_file(dir / "pad.wav", make_stem(Kind::kPad, 2, 5.0, 48000, 0.3f, rng), 48000);
  lq::test::write_audio_file(dir / "hall.wav", make_ir(1.5, 48000, rng), 48000);
  const json report = expect_backends_agree(GetParam(), dir, R"(
[master]
target_lufs = -14.0
ceiling_dbtp = -1.0
[reverbs.hall]
ir = "hall.wav"
predelay_ms = 20.0
wet_db = -3.0
[stems.drums]
file = "drums.wav"
group = "drums"
sends = [ { reverb = "hall", level_db = -12.0 } ]
[stems.pad]
file = "pad.wav"
group = "music"
sends = [ { reverb = "hall", level_db = -6.0 } ]
)", dir);
  EXPECT_GT(figure(report, {"master", "tail_s"}).get<double>(), 0.1) << "the reverb tail should be kept";
}

TEST_P(RenderParity, ResampledStemsWithAPannedMonoStemAgree) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "vocal.wav", make_stem(Kind::kNoise, 1, 5.0, 44100, 0.5f, rng), 44100);
  lq::test::write_audio_file(dir / "bass.wav", make_stem(Kind::kBass, 2, 5.0, 44100, 0.3f, rng), 44100);
  lq::test::write_audio_file(dir / "drums.wav", make_stem(Kind::kDrums, 2, 5.0, 44100, 0.4f, rng), 44100);
  const json report = expect_backends_agree(GetParam(), dir, R"(
[master]
sample_rate = 48000
target_lufs = -16.0
eq = [ { type = "tilt", freq_hz = 1000.0, gain_db = 1.0 } ]
compressor = { threshold_db = -12.0, ratio = 1.5, attack_ms = 30.0, release_ms = 200.0 }
[stems.vocal]
file = "vocal.wav"
group = "vocals"
pan = -0.6
eq = [ { type = "bell", freq_hz = 3000.0, gain_db = 2.0, q = 1.0 } ]
[stems.bass]
file = "bass.wav"
group = "bass"
[stems.drums]
file = "drums.wav"
group = "drums"
)", dir);
  EXPECT_EQ(figure(report, {"master", "sample_rate"}), 48000.0);
  EXPECT_EQ(figure(report, {"master", "processing_sample_rate"}), 44100.0);
}

TEST_P(RenderParity, HeavyLimitingToMinusEightLufsAgreesUnderTheCeiling) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "drums.wav", make_stem(Kind::kDrums, 2, 6.0, 48000, 1.0f, rng), 48000);
  lq::test::write_audio_file(dir / "bass.wav", make_stem(Kind::kBass, 2, 6.0, 48000, 0.8f, rng), 48000);
  lq::test::write_audio_file(dir / "noise.wav", make_stem(Kind::kNoise, 2, 6.0, 48000, 0.8f, rng), 48000);
  const json report = expect_backends_agree(GetParam(), dir, R"(
[master]
target_lufs = -8.0
ceiling_dbtp = -1.0
max_limiting_db = 30.0
[stems.drums]
file = "drums.wav"
group = "drums"
[stems.bass]
file = "bass.wav"
group = "bass"
[stems.noise]
file = "noise.wav"
group = "music"
)", dir);
  EXPECT_GT(figure(report, {"master", "limiter", "max_gain_reduction_db"}).get<double>(), 3.0)
      << "the session should need heavy limiting";
}

// Every bus of the graph (host/mix_stream.hpp MixGraph): a mono IR returning into a group with a
// predelay, a group sending to a stereo reverb on the master, width and gain on groups, a mono
// stem panned, the groups exported and a deliverable at another rate. On the device render the
// exports come down from the device and the deliverable's conversion runs on the host.
constexpr const char* kEveryBusSession = R"(
[master]
target_lufs = -16.0
ceiling_dbtp = -1.0
bit_depth = 32
[deliverables.cd]
sample_rate = 44100
[groups.drums]
width = 1.3
gain_db = -1.5
compressor = { threshold_db = -20.0, ratio = 3.0, attack_ms = 5.0, release_ms = 80.0 }
sends = [ { reverb = "hall", level_db = -12.0 } ]
[groups.music]
eq = [ { type = "bell", freq_hz = 800.0, gain_db = -2.0, q = 1.0 } ]
[reverbs.room]
ir = "room.wav"
return_to = "drums"
predelay_ms = 12.0
wet_db = -6.0
[reverbs.hall]
ir = "hall.wav"
predelay_ms = 30.0
[stems.kick]
file = "kick.wav"
group = "drums"
eq = [ { type = "high_pass", freq_hz = 40.0, slope_db_per_oct = 24 } ]
sends = [ { reverb = "room", level_db = -10.0 } ]
[stems.bass]
file = "bass.wav"
group = "music"
pan = -0.3
gain_db = -2.0
compressor = { threshold_db = -22.0, ratio = 4.0, attack_ms = 20.0, release_ms = 200.0 }
[stems.pad]
file = "pad.wav"
group = "music"
sends = [ { reverb = "hall", level_db = -8.0 } ]
)";

void write_every_bus_material(const fs::path& dir, std::mt19937& rng) {
  lq::test::write_audio_file(dir / "kick.wav", make_stem(Kind::kDrums, 2, 4.0, 48000, 0.6f, rng), 48000);
  lq::test::write_audio_file(dir / "bass.wav", make_stem(Kind::kBass, 1, 4.0, 48000, 0.4f, rng), 48000);
  lq::test::write_audio_file(dir / "pad.wav", make_stem(Kind::kPad, 2, 3.5, 48000, 0.3f, rng), 48000);
  Channels room = make_ir(0.4, 48000, rng);
  room.resize(1);  // mono
  lq::test::write_audio_file(dir / "room.wav", room, 48000);
  lq::test::write_audio_file(dir / "hall.wav", make_ir(1.2, 48000, rng), 48000);
  lq::test::write_text_file(dir / "session.toml", kEveryBusSession);
}

lq::RenderResult render_every_bus(const fs::path& dir, const std::string& backend, const std::string& tag,
                                  const std::function<void(lq::RenderOptions&)>& adjust = {}) {
  lq::RenderOptions options;
  options.output = dir / (tag + ".wav");
  options.backend = backend;
  fs::create_directories(dir / (tag + "-groups"));
  options.export_groups_dir = dir / (tag + "-groups");
  if (adjust) adjust(options);
  return lq::render(lq::load_session(dir / "session.toml"), options);
}

void expect_files_close(const fs::path& a, const fs::path& b) {
  const auto x = lq::test::read_audio_file(a), y = lq::test::read_audio_file(b);
  EXPECT_EQ(x.sample_rate, y.sample_rate) << a;
  ASSERT_EQ(x.channels.size(), y.channels.size()) << a;
  for (size_t c = 0; c < x.channels.size(); ++c) {
    EXPECT_TRUE(lq::test::all_close(x.channels[c], y.channels[c], kSampleTol)) << a << " channel " << c;
  }
}

TEST_P(RenderParity, EveryBusWithGroupExportsAndADeliverableAtAnotherRateAgrees) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  write_every_bus_material(dir, rng);
  const json cpu = render_every_bus(dir, "cpu", "cpu").report;
  const json dev = render_every_bus(dir, GetParam(), "dev").report;
  EXPECT_EQ(figure(dev, {"lacquer", "device_render"}), "whole song on the device");
  expect_files_close(dir / "dev.wav", dir / "cpu.wav");
  expect_files_close(dir / "dev-cd.wav", dir / "cpu-cd.wav");
  for (const char* group : {"drums", "music"}) {
    expect_files_close(dir / "dev-groups" / (std::string(group) + ".wav"), dir / "cpu-groups" / (std::string(group) + ".wav"));
  }
  for (const char* key : {"integrated_lufs", "true_peak_dbtp", "loudness_range_lu"}) {
    expect_figure_close(dev, cpu, {"master", "before", key});
    expect_figure_close(dev, cpu, {"master", "after", key});
  }
  expect_figure_close(dev, cpu, {"master", "tail_s"});
  ASSERT_TRUE(cpu["groups"].is_array() && dev["groups"].is_array());
  ASSERT_EQ(dev["groups"].size(), cpu["groups"].size());
  EXPECT_NEAR(dev["groups"][0]["compressor"]["max_gain_reduction_db"].get<double>(),
              cpu["groups"][0]["compressor"]["max_gain_reduction_db"].get<double>(), kFigureTol);
  EXPECT_NEAR(dev["stems"][1]["compressor"]["mean_gain_reduction_db"].get<double>(),
              cpu["stems"][1]["compressor"]["mean_gain_reduction_db"].get<double>(), kFigureTol);
  EXPECT_EQ(dev["inputs"], cpu["inputs"]);
  ASSERT_EQ(dev["deliverables"].size(), 1u);
  EXPECT_NEAR(dev["deliverables"][0]["after"]["integrated_lufs"].get<double>(),
              cpu["deliverables"][0]["after"]["integrated_lufs"].get<double>(), kFigureTol);
}

// The device render's bits do not depend on its convolution batch; over the memory budget the
// song is mixed in spans on the device with its master finished on the CPU, and agrees with it
// within tolerance.
TEST_P(RenderParity, SmallBatchesGiveTheSameBitsAndTheSpanPathAgrees) {
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  write_every_bus_material(dir, rng);
  render_every_bus(dir, GetParam(), "whole");
  const json batched = render_every_bus(dir, GetParam(), "batched", [](lq::RenderOptions& o) {
    o.device_batch_samples = int64_t{1} << 16;
  }).report;
  EXPECT_TRUE(same_bytes(dir / "whole.wav", dir / "batched.wav"));
  EXPECT_TRUE(same_bytes(dir / "whole-groups" / "drums.wav", dir / "batched-groups" / "drums.wav"));
  const json spans = render_every_bus(dir, GetParam(), "spans", [](lq::RenderOptions& o) {
    o.device_memory_budget_bytes = 0;
  }).report;
  EXPECT_EQ(figure(spans, {"lacquer", "device_render"}),
            "spans on the device, the master on the CPU (over the device memory budget)");
  EXPECT_LT(figure(spans, {"lacquer", "device_counters", "peak_device_bytes"}).get<int64_t>(),
            figure(batched, {"lacquer", "device_counters", "peak_device_bytes"}).get<int64_t>());
  expect_files_close(dir / "spans.wav", dir / "whole.wav");
  expect_files_close(dir / "spans-cd.wav", dir / "whole-cd.wav");
  expect_files_close(dir / "spans-groups" / "music.wav", dir / "whole-groups" / "music.wav");
}

INSTANTIATE_TEST_SUITE_P(Backends, RenderParity, ::testing::Values("cuda", "cuda-host"),
                         [](const auto& p) { return p.param == "cuda" ? std::string("Cuda") : std::string("CudaHost"); });
