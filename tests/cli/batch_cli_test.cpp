// `lacquer batch` and `lacquer summary` as a catalog owner runs them: bad songs fail alone, a killed
// or interrupted batch resumes without losing or re-rendering work, shards split a catalog exactly,
// and the outputs do not depend on how many songs are in flight.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <numbers>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "host/files.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::test::run_lacquer;
using nlohmann::json;

namespace {

constexpr int kRate = 48000;

// A song folder with two stereo stems (drums-like noise hits and a bass tone), distinct per seed.
void write_song(const fs::path& dir, unsigned seed, double seconds) {
  fs::create_directories(dir);
  const auto n = static_cast<size_t>(seconds * kRate);
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<std::vector<float>> drums(2, std::vector<float>(n)), bass(2, std::vector<float>(n));
  const double f = 50.0 + seed % 17;
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / kRate;
    const float hit = static_cast<float>(std::exp(-std::fmod(t, 0.5) * 25.0));
    drums[0][i] = 0.3f * hit * noise(rng);
    drums[1][i] = 0.3f * hit * noise(rng);
    bass[0][i] = bass[1][i] = 0.25f * static_cast<float>(std::sin(2 * std::numbers::pi * f * t));
  }
  lq::test::write_audio_file(dir / "drums.wav", drums, kRate);
  lq::test::write_audio_file(dir / "bass.wav", bass, kRate);
}

fs::path make_catalog(int songs, double seconds, const std::string& prefix = "song") {
  const fs::path cat = lq::test::fresh_dir() / "catalog";
  for (int s = 0; s < songs; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "%s%02d", prefix.c_str(), s);
    write_song(cat / name, unsigned(100 + s), seconds);
  }
  return cat;
}

json read_json(const fs::path& p) { return json::parse(lq::test::read_text_file(p)); }

std::map<std::string, json> by_id(const json& summary) {
  std::map<std::string, json> m;
  for (const auto& s : summary.at("songs")) m[s.at("id").get<std::string>()] = s;
  return m;
}

// Every file under a folder (relative path -> bytes), to compare two output trees.
// Every file under `dir` (relative path -> bytes).
std::map<std::string, std::string> outputs_of(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = lq::test::read_text_file(e.path());
  }
  return files;
}

std::map<std::string, std::string> masters_of(const fs::path& out) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && (name.rfind("master.", 0) == 0 || e.path().parent_path().filename() == "groups")) {
      files[fs::relative(e.path(), out).string()] = lq::test::read_text_file(e.path());
    }
  }
  return files;
}

std::vector<std::string> temporaries_in(const fs::path& out) {
  std::vector<std::string> t;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    if (lq::is_lacquer_temporary(e.path().filename().string())) t.push_back(e.path().string());
  }
  return t;
}

}  // namespace

TEST(BatchCli, RendersEverySongAndSkipsThemWhenRunAgain) {
  const fs::path cat = make_catalog(4, 2.0);
  const fs::path out = cat.parent_path() / "out";
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = read_json(out / "summary.json");
  ASSERT_EQ(summary["songs"].size(), 4u);
  for (const auto& s : summary["songs"]) {
    EXPECT_EQ(s["status"], "rendered") << s.dump();
    const fs::path song = out / s["id"].get<std::string>();
    EXPECT_TRUE(fs::exists(song / "master.wav"));
    const json report = read_json(song / "report.json");
    EXPECT_EQ(report["batch"]["song_id"], s["id"]);
    EXPECT_NEAR(report["master"]["after"]["integrated_lufs"].get<double>(), -14.0, 0.1);
  }
  EXPECT_TRUE(fs::exists(out / "summary.csv"));
  const auto before = masters_of(out);
  const auto mtime = fs::last_write_time(out / "song00" / "master.wav");

  const auto again = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const json second = read_json(out / "summary.json");
  for (const auto& s : second["songs"]) EXPECT_EQ(s["status"], "skipped") << s.dump();
  EXPECT_EQ(fs::last_write_time(out / "song00" / "master.wav"), mtime) << "a complete song was rendered again";
  EXPECT_EQ(masters_of(out), before);

  // A changed session re-renders only that song; --force renders all.
  lq::test::write_text_file(cat / "song02" / "session.toml", R"(
[master]
target_lufs = -16.0
[stems.drums]
file = "drums.wav"
group = "drums"
[stems.bass]
file = "bass.wav"
group = "bass"
)");
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"}).exit_code, 0);
  const auto third = by_id(read_json(out / "summary.json"));
  EXPECT_EQ(third.at("song02")["status"], "rendered");
  EXPECT_NEAR(third.at("song02")["integrated_lufs_after"].get<double>(), -16.0, 0.1);
  for (const char* id : {"song00", "song01", "song03"}) EXPECT_EQ(third.at(id)["status"], "skipped") << id;
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet", "--force"}).exit_code, 0);
  const json forced = read_json(out / "summary.json");
  for (const auto& s : forced["songs"]) EXPECT_EQ(s["status"], "rendered") << s.dump();
}

TEST(BatchCli, TwoBrokenSongsAmongEightFailAloneWithTheirErrors) {
  const fs::path cat = make_catalog(6, 1.5);
  fs::create_directories(cat / "broken_stem");
  lq::test::write_text_file(cat / "broken_stem" / "vocal.wav", "this is not audio");
  write_song(cat / "broken_session", 7, 1.0);
  lq::test::write_text_file(cat / "broken_session" / "session.toml",
                            "[master]\ntarget_lufs = 3.0\n[stems.d]\nfile = \"drums.wav\"\ngroup = \"drums\"\n");
  const fs::path out = cat.parent_path() / "out";
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto songs = by_id(read_json(out / "summary.json"));
  ASSERT_EQ(songs.size(), 8u);
  int masters = 0;
  for (const auto& [id, s] : songs) masters += fs::exists(out / id / "master.wav") ? 1 : 0;
  EXPECT_EQ(masters, 6);
  EXPECT_EQ(songs.at("broken_stem")["status"], "failed");
  EXPECT_NE(songs.at("broken_stem")["error"].get<std::string>().find("vocal.wav"), std::string::npos);
  EXPECT_EQ(songs.at("broken_session")["status"], "failed");
  EXPECT_NE(songs.at("broken_session")["error"].get<std::string>().find("target_lufs"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "broken_stem" / "report.json"));
  const std::string csv = lq::test::read_text_file(out / "summary.csv");
  EXPECT_NE(csv.find("broken_stem,failed"), std::string::npos) << csv;
  EXPECT_NE(r.err.find("broken_stem"), std::string::npos) << "--quiet still prints errors: " << r.err;
}

TEST(BatchCli, AKilledBatchResumesWithoutLosingOrRedoingWork) {
  const fs::path cat = make_catalog(10, 6.0);
  const fs::path out = cat.parent_path() / "out", ref = cat.parent_path() / "ref";
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", ref.string(), "--quiet", "--jobs", "2"}).exit_code, 0);

  const fs::path log = cat.parent_path() / "log";
  const int pid = lq::test::start_lacquer({"batch", cat.string(), "-o", out.string(), "--jobs", "1", "--threads", "1"},
                                          log.string() + ".out", log.string() + ".err");
  // Kill it once two songs are complete (their reports are published last).
  std::set<std::string> done_before_kill;
  for (int i = 0; i < 6000 && done_before_kill.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    done_before_kill.clear();
    std::error_code ec;
    for (fs::directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec)) {
      if (fs::exists(it->path() / "report.json")) done_before_kill.insert(it->path().filename().string());
    }
  }
  ::kill(pid, SIGKILL);
  EXPECT_EQ(lq::test::wait_lacquer(pid), 128 + SIGKILL);
  ASSERT_GE(done_before_kill.size(), 2u) << "the batch did not get going";
  ASSERT_LT(done_before_kill.size(), 10u) << "the batch finished before the kill: make the songs longer";

  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto songs = by_id(read_json(out / "summary.json"));
  for (const auto& id : done_before_kill) EXPECT_EQ(songs.at(id)["status"], "skipped") << id << " was rendered again";
  for (const auto& [id, s] : songs) EXPECT_TRUE(s["status"] == "skipped" || s["status"] == "rendered") << s.dump();
  EXPECT_EQ(temporaries_in(out), std::vector<std::string>{});
  EXPECT_EQ(masters_of(out), masters_of(ref)) << "the resumed outputs differ from an uninterrupted run";
}

TEST(BatchCli, SigtermFinishesTheSongsInFlightAndWritesTheSummarySoFar) {
  const fs::path cat = make_catalog(8, 6.0);
  const fs::path out = cat.parent_path() / "out", log = cat.parent_path() / "log";
  const int pid = lq::test::start_lacquer({"batch", cat.string(), "-o", out.string(), "--jobs", "1", "--threads", "1"},
                                          log.string() + ".out", log.string() + ".err");
  for (int i = 0; i < 6000 && !fs::exists(out / "song00" / "report.json"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGTERM);
  EXPECT_EQ(lq::test::wait_lacquer(pid), 1) << lq::test::read_text_file(log.string() + ".err");
  const json summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["interrupted_by_signal"], SIGTERM);
  const auto songs = by_id(summary);
  ASSERT_EQ(songs.size(), 8u);
  EXPECT_EQ(songs.at("song00")["status"], "rendered");
  EXPECT_EQ(songs.at("song07")["status"], "interrupted");
  for (const auto& [id, s] : songs) {
    EXPECT_EQ(fs::exists(out / id / "report.json"), s["status"] == "rendered") << id;
  }
  EXPECT_EQ(temporaries_in(out), std::vector<std::string>{});
}

TEST(BatchCli, ASongLockedByAnotherBatchIsLeftToIt) {
  const fs::path cat = make_catalog(3, 1.0);
  const fs::path out = cat.parent_path() / "out";
  fs::create_directories(out / "song01");
  const int fd = ::open((out / "song01" / ".lock").c_str(), O_RDWR | O_CREAT, 0666);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1);
  const auto songs = by_id(read_json(out / "summary.json"));
  EXPECT_EQ(songs.at("song01")["status"], "locked");
  EXPECT_NE(songs.at("song01")["error"].get<std::string>().find("another lacquer batch"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "song01" / "master.wav"));
  EXPECT_EQ(songs.at("song00")["status"], "rendered");
}

TEST(BatchCli, ShardsCoverEverySongExactlyOnceAndMergeIntoOneSummary) {
  const fs::path cat = make_catalog(12, 0.6);
  for (int n : {1, 3, 7}) {
    const fs::path out = cat.parent_path() / ("out" + std::to_string(n));
    std::map<std::string, int> seen;
    for (int i = 0; i < n; ++i) {
      const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet", "--shard",
                                  std::to_string(i) + "/" + std::to_string(n)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const std::string name = n == 1 ? "summary.json" : "summary-shard-" + std::to_string(i) + "-of-" + std::to_string(n) + ".json";
      const json shard = read_json(out / name);
      for (const auto& s : shard["songs"]) ++seen[s["id"].get<std::string>()];
    }
    EXPECT_EQ(seen.size(), 12u) << "N = " << n;
    for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << id << " with N = " << n;
    if (n > 1) {
      const auto m = run_lacquer({"summary", out.string(), "--quiet"});
      EXPECT_EQ(m.exit_code, 0) << m.err;
      EXPECT_EQ(read_json(out / "summary.json")["songs"].size(), 12u);
    }
  }
  // A missing shard is reported.
  const fs::path partial = cat.parent_path() / "partial";
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", partial.string(), "--quiet", "--shard", "0/2"}).exit_code, 0);
  const auto m = run_lacquer({"summary", partial.string()});
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_NE(m.out.find("missing shards: 1"), std::string::npos) << m.out;
}

TEST(BatchCli, SlurmArrayVariablesSelectTheShard) {
  const fs::path cat = make_catalog(6, 0.5);
  const fs::path out = cat.parent_path() / "out";
  ::setenv("SLURM_ARRAY_TASK_ID", "1", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"});
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "summary-shard-1-of-3.json"));
  const auto bad = run_lacquer({"batch", cat.string(), "-o", out.string(), "--shard", "3/3"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(BatchCli, OutputsDoNotDependOnSongsInFlightAndGroupsAlignWithTheMaster) {
  const fs::path cat = make_catalog(3, 2.0);
  const fs::path a = cat.parent_path() / "a", b = cat.parent_path() / "b";
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", a.string(), "--quiet", "--jobs", "1", "--export-groups"}).exit_code, 0);
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", b.string(), "--quiet", "--jobs", "3", "--threads", "2",
                         "--export-groups"}).exit_code, 0);
  const auto ma = masters_of(a);
  EXPECT_EQ(ma, masters_of(b));
  const auto master = lq::test::read_audio_file(a / "song00" / "master.wav");
  for (const char* g : {"drums", "bass"}) {
    const auto group = lq::test::read_audio_file(a / "song00" / "groups" / (std::string(g) + ".wav"));
    EXPECT_EQ(group.channels[0].size(), master.channels[0].size()) << g;
    EXPECT_EQ(group.sample_rate, master.sample_rate) << g;
  }
  EXPECT_EQ(read_json(a / "song00" / "report.json")["exported_groups"].size(), 2u);
}

// The device backend with songs in flight (each song its own device and stream): the same bytes
// with one song at a time and with three, on the host executor (`cuda-host`) that runs the same
// orchestration as `cuda`; and the reports carry the device's counters.
TEST(BatchCli, DeviceBackendOutputsDoNotDependOnSongsInFlight) {
  const fs::path cat = make_catalog(3, 2.0);
  const fs::path a = cat.parent_path() / "a", b = cat.parent_path() / "b";
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", a.string(), "--quiet", "--jobs", "1", "--backend", "cuda-host"}).exit_code, 0);
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", b.string(), "--quiet", "--jobs", "3", "--threads", "2", "--backend",
                         "cuda-host"}).exit_code, 0);
  const auto ma = masters_of(a);
  ASSERT_EQ(ma.size(), 3u);
  EXPECT_EQ(ma, masters_of(b));
  const json report = read_json(a / "song00" / "report.json");
  EXPECT_EQ(report.at("lacquer").at("backend"), "cuda-host");
  EXPECT_GT(report.at("lacquer").at("device_counters").at("h2d_bytes").get<int64_t>(), 0);
  EXPECT_EQ(report.at("lacquer").at("device_render"), "whole song on the device");
  // Three in flight under a device budget that holds one song's render: they take the device one
  // at a time (the summary's peak is one song's estimate, not the sum), the same bytes.
  const fs::path c = cat.parent_path() / "c";
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", c.string(), "--quiet", "--jobs", "3", "--threads", "2", "--backend",
                         "cuda-host", "--max-device-gib", "0.001"}).exit_code, 0);
  EXPECT_EQ(ma, masters_of(c));
  int64_t largest = 0;
  for (const char* song : {"song00", "song01", "song02"}) {
    largest = std::max(largest, read_json(c / song / "report.json").at("lacquer").at("device_memory_estimate_bytes").get<int64_t>());
  }
  EXPECT_EQ(read_json(c / "summary.json").at("peak_device_inflight_estimate_bytes").get<int64_t>(), largest);
  EXPECT_GE(read_json(b / "summary.json").at("peak_device_inflight_estimate_bytes").get<int64_t>(), largest);
}

TEST(BatchCli, ManifestsGiveIdsSourcesAndOverrides) {
  const fs::path dir = lq::test::fresh_dir();
  write_song(dir / "stems_a", 1, 1.5);
  write_song(dir / "stems_b", 2, 1.5);
  lq::test::write_text_file(dir / "m.csv", "id,source,target_lufs\nalpha,stems_a,-18\nbeta,stems_b,\n");
  const auto r = run_lacquer({"batch", (dir / "m.csv").string(), "-o", (dir / "out").string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto songs = by_id(read_json(dir / "out" / "summary.json"));
  EXPECT_NEAR(songs.at("alpha")["integrated_lufs_after"].get<double>(), -18.0, 0.1);
  EXPECT_NEAR(songs.at("beta")["integrated_lufs_after"].get<double>(), -14.0, 0.1);

  lq::test::write_text_file(dir / "m.jsonl", "{\"id\": \"gamma\", \"stems\": \"stems_a\"}\n{\"id\": \"GAMMA\", \"stems\": \"stems_b\"}\n");
  const auto dup = run_lacquer({"batch", (dir / "m.jsonl").string(), "-o", (dir / "out2").string()});
  EXPECT_EQ(dup.exit_code, 2);
  EXPECT_NE(dup.err.find("GAMMA"), std::string::npos) << dup.err;
  EXPECT_FALSE(fs::exists(dir / "out2" / "gamma"));

  lq::test::write_text_file(dir / "bad.csv", "id,source\nok,stems_a\nbad/id,stems_b\n");
  const auto bad = run_lacquer({"batch", (dir / "bad.csv").string(), "-o", (dir / "out3").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.csv:3"), std::string::npos) << bad.err;
}

TEST(BatchCli, APresetAppliesToSongsWithoutASessionFile) {
  const fs::path cat = make_catalog(2, 1.5);
  const fs::path preset = cat.parent_path() / "preset.toml";
  lq::test::write_text_file(preset, "[master]\ntarget_lufs = -20.0\nbit_depth = 16\n[groups.drums]\ngain_db = -3.0\n");
  const fs::path out = cat.parent_path() / "out";
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet", "--preset", preset.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = read_json(out / "summary.json");
  for (const auto& s : summary["songs"]) {
    EXPECT_NEAR(s["integrated_lufs_after"].get<double>(), -20.0, 0.1);
    EXPECT_EQ(read_json(out / s["id"].get<std::string>() / "report.json")["master"]["bit_depth"], 16);
  }
  lq::test::write_text_file(preset, "[stems.x]\nfile = \"x.wav\"\ngroup = \"g\"\n");
  const auto bad = run_lacquer({"batch", cat.string(), "-o", (cat.parent_path() / "o2").string(), "--quiet",
                                "--preset", preset.string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("a preset has no stems"), std::string::npos) << bad.err;
}

TEST(BatchCli, AnOutputFolderInsideOrAroundTheCatalogIsRefusedBeforeAnythingIsWritten) {
  const fs::path cat = make_catalog(2, 0.5);
  const auto before = outputs_of(cat);
  for (const fs::path& out : {cat / "masters", cat, cat / "song00", cat.parent_path()}) {
    const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"});
    EXPECT_EQ(r.exit_code, 2) << out << r.err;
    EXPECT_NE(r.err.find("overlaps"), std::string::npos) << r.err;
    EXPECT_EQ(outputs_of(cat), before);
    EXPECT_FALSE(fs::exists(cat / "masters"));
    EXPECT_FALSE(fs::exists(cat / "song00" / ".lock"));
  }
}
