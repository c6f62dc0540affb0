// labels: gpu
// Whole renders (lq::render) on the device backends against the CPU backend, each test on `cuda`
// (a GPU; skipped without one, a failure under LQ_REQUIRE_GPU=1) and on `cuda-host` (the same
// orchestration on the host executor, every machine): eight sessions that between them use every
// stage (plain sum; stem EQ and compressors, group compressor and width; a reverb to the master
// with normalisation; 44.1 kHz stems resampled to 48 kHz with a panned mono stem; a reference
// match in an album of one; heavy limiting;
// every bus of the graph with group exports and a deliverable at another rate; small convolution
// batches and the span path). The demo song: demo_parity_test.cpp (slow). Output is 32-bit float so the
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
#include "support/render_parity.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace lq::test::parity;

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

TEST_P(RenderParity, AReferenceMatchInAnAlbumOfOneAgrees) {
  // The match reads the master bus down from the device for its spectrum; its curve runs with
  // the master's EQ there; the album's one gain is applied once on the device.
  const unsigned seed = lq::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "drums.wav", make_stem(Kind::kDrums, 2, 6.0, 48000, 0.4f, rng), 48000);
  lq::test::write_audio_file(dir / "pad.wav", make_stem(Kind::kPad, 2, 6.0, 48000, 0.3f, rng), 48000);
  lq::test::write_audio_file(dir / "reference.wav", make_stem(Kind::kNoise, 2, 6.0, 48000, 0.2f, rng), 48000);
  const json report = expect_backends_agree(GetParam(), dir, R"(
[master]
target_lufs = -16.0
loudness = "album"
eq = [ { type = "low_shelf", freq_hz = 100.0, gain_db = 1.0 } ]
[master.match]
reference = "reference.wav"
amount = 0.8
[stems.drums]
file = "drums.wav"
group = "drums"
[stems.pad]
file = "pad.wav"
group = "music"
)", dir);
  EXPECT_TRUE(figure(report, {"master", "match", "applied"}).get<bool>());
  EXPECT_EQ(figure(report, {"master", "normalisation", "mode"}), "album");
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
namespace {

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

}  // namespace

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
