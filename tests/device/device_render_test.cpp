// labels: slow
// The device render's counters (host/device_render.hpp) against the budgets that make a GPU
// render efficient, on the host executor (`cuda-host`), which counts what the CUDA executor
// would do (kernels/device/device.hpp): for the standard session (8 stereo stems x 180 s, each
// through a 4-band EQ and a compressor with a send to one reverb on the master; a true-peak limiter)
// the bytes each way stay within 10 % of the stems and IR up and the master down, the host
// synchronisations under 64, the device memory under 2 GiB and under the render's own estimate;
// the synchronisations stay within 8 of each other for a 30 s and a 600 s song and for 2 and 32
// stems (none per span, stem or recurrence round); and a song over the device memory budget (a
// 2-hour song under the default 2 GiB; here short songs under a small budget) keeps the device
// under it, whatever its length.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <sndfile.h>

#include <nlohmann/json.hpp>

#include "host/render.hpp"
#include "host/session.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kRate = 48000;

// Stem i of a song: drum hits, a bass line, two pads per side or level-varying noise (by i % 4),
// stereo, `seconds` long, peaks near 0.3.
std::vector<std::vector<float>> song_stem(int i, double seconds, std::mt19937& rng) {
  const auto n = static_cast<size_t>(seconds * kRate);
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double f1 = 40.0 + 400.0 * u(rng), f2 = 500.0 + 2000.0 * u(rng), beat = 0.4 + 0.2 * u(rng);
  std::vector<std::vector<float>> x(2, std::vector<float>(n));
  double env = 1.0;
  for (size_t k = 0; k < n; ++k) {
    const double t = double(k) / kRate;
    if (k % (kRate / 4) == 0) env = 0.2 + 0.8 * u(rng);
    for (size_t c = 0; c < 2; ++c) {
      double v = 0.0;
      switch (i % 4) {
        case 0: v = std::exp(-std::fmod(t, beat) * 25.0) * g(rng); break;
        case 1: v = std::sin(2.0 * std::numbers::pi * f1 * t); break;
        case 2: v = 0.5 * (std::sin(2.0 * std::numbers::pi * (f1 + 3.0 * double(c)) * t) + std::sin(2.0 * std::numbers::pi * f2 * t)); break;
        default: v = 0.4 * env * g(rng); break;
      }
      x[c][k] = static_cast<float>(0.3 * v);
    }
  }
  return x;
}

struct Song {
  json counters;
  json report;
  int64_t stem_bytes = 0, ir_bytes = 0, master_bytes = 0;
};

// The standard chain over `stems` stereo stems of `seconds` (16-bit files), rendered on cuda-host
// (with `budget`: that device memory budget).
Song render_standard(int stems, double seconds, std::optional<int64_t> budget = std::nullopt) {
  std::mt19937 rng(lq::test::test_seed() + unsigned(stems) * 1000u + unsigned(seconds));
  const fs::path dir = lq::test::fresh_dir();
  Song song;
  std::string session = "[master]\nceiling_dbtp = -1.0\nbit_depth = 24\n[groups.mix]\n[reverbs.room]\nir = \"ir.wav\"\n";
  for (int i = 0; i < stems; ++i) {
    const std::string name = "s" + std::to_string(i);
    lq::test::write_audio_file(dir / (name + ".wav"), song_stem(i, seconds, rng), kRate, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    song.stem_bytes += int64_t(2 * sizeof(float)) * int64_t(seconds * kRate);
    session += "[stems." + name + "]\nfile = \"" + name + ".wav\"\ngroup = \"mix\"\n" +
               "eq = [ { type = \"low_shelf\", freq_hz = 100.0, gain_db = 3.0 },\n"
               "       { type = \"bell\", freq_hz = 400.0, gain_db = -2.0, q = 1.0 },\n"
               "       { type = \"bell\", freq_hz = 3000.0, gain_db = 2.0, q = 1.0 },\n"
               "       { type = \"high_shelf\", freq_hz = 10000.0, gain_db = 1.5 } ]\n"
               "compressor = { threshold_db = -18.0, ratio = 4.0, attack_ms = 10.0, release_ms = 100.0 }\n"
               "sends = [ { reverb = \"room\", level_db = -10.457575 } ]\n";
  }
  // A 3 s stereo room: decaying noise, different per side.
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<std::vector<float>> ir(2, std::vector<float>(size_t(3 * kRate)));
  for (auto& c : ir) {
    for (size_t k = 0; k < c.size(); ++k) c[k] = static_cast<float>(0.02 * std::exp(-double(k) / (0.4 * kRate)) * g(rng));
  }
  lq::test::write_audio_file(dir / "ir.wav", ir, kRate);
  song.ir_bytes = int64_t(2 * sizeof(float)) * int64_t(ir[0].size());
  lq::test::write_text_file(dir / "session.toml", session);

  lq::RenderOptions options;
  options.output = dir / "master.wav";
  options.backend = "cuda-host";
  options.device_memory_budget_bytes = budget;
  const lq::RenderResult r = lq::render(lq::load_session(dir / "session.toml"), options);
  song.report = r.report;
  song.counters = r.report["lacquer"]["device_counters"];
  song.master_bytes = int64_t(2 * sizeof(float)) * r.report["master"]["frames"].get<int64_t>();
  if (!budget) {
    EXPECT_EQ(r.report["lacquer"]["device_render"], "whole song on the device");
  }
  std::printf("%d stems x %.0f s: %s, estimate %lld bytes\n", stems, seconds, song.counters.dump().c_str(),
              static_cast<long long>(r.report["lacquer"]["device_memory_estimate_bytes"].get<int64_t>()));
  fs::remove_all(dir);
  return song;
}

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

}  // namespace

TEST(DeviceRender, TheStandardSessionMeetsTheTransferSyncAndMemoryBudgets) {
  const Song s = render_standard(8, 180.0);
  SCOPED_TRACE(s.counters.dump());
  const auto h2d = s.counters["h2d_bytes"].get<int64_t>(), d2h = s.counters["d2h_bytes"].get<int64_t>();
  EXPECT_GE(h2d, s.stem_bytes + s.ir_bytes) << "every stem and the IR go up";
  EXPECT_LE(double(h2d), 1.1 * double(s.stem_bytes + s.ir_bytes)) << "once each";
  EXPECT_GE(d2h, s.master_bytes) << "the master comes down";
  EXPECT_LE(double(d2h), 1.1 * double(s.master_bytes) + double(kMiB)) << "once";
  EXPECT_LE(s.counters["syncs"].get<int64_t>(), 64);
  EXPECT_LE(s.counters["peak_device_bytes"].get<int64_t>(), 2 * kGiB);
  EXPECT_LE(s.counters["peak_device_bytes"].get<int64_t>(), s.report["lacquer"]["device_memory_estimate_bytes"].get<int64_t>())
      << "the estimate that picks the path must hold";
}

TEST(DeviceRender, SynchronisationsDoNotGrowWithTheSongsLengthOrItsStems) {
  const Song short_song = render_standard(2, 30.0);
  const Song long_song = render_standard(2, 600.0);
  const Song many_stems = render_standard(32, 30.0);
  const int64_t base = short_song.counters["syncs"].get<int64_t>();
  EXPECT_LE(base, 64);
  EXPECT_NEAR(double(long_song.counters["syncs"].get<int64_t>()), double(base), 8.0) << "30 s against 600 s";
  EXPECT_NEAR(double(many_stems.counters["syncs"].get<int64_t>()), double(base), 8.0) << "2 stems against 32";
  EXPECT_LE(long_song.counters["peak_device_bytes"].get<int64_t>(), 2 * kGiB) << "600 s";
  EXPECT_LE(long_song.counters["peak_device_bytes"].get<int64_t>(),
            long_song.report["lacquer"]["device_memory_estimate_bytes"].get<int64_t>());
}

TEST(DeviceRender, ASongOverTheBudgetKeepsTheDeviceUnderItWhateverItsLength) {
  constexpr int64_t kBudget = 64 * kMiB;
  // Both longer than a reverb return's span (2^20 frames), so that every span is whole.
  const Song short_song = render_standard(2, 60.0, kBudget);
  const Song long_song = render_standard(2, 240.0, kBudget);
  for (const Song* s : {&short_song, &long_song}) {
    EXPECT_EQ(s->report["lacquer"]["device_render"], "spans on the device, the master on the CPU (over the device memory budget)");
    EXPECT_GT(s->report["lacquer"]["device_memory_estimate_bytes"].get<int64_t>(), kBudget);
    EXPECT_LE(s->counters["peak_device_bytes"].get<int64_t>(), kBudget);
  }
  EXPECT_LE(double(long_song.counters["peak_device_bytes"].get<int64_t>()),
            1.05 * double(short_song.counters["peak_device_bytes"].get<int64_t>()))
      << "the device holds spans: its peak does not grow with the song";
}
