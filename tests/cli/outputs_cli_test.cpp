// Outputs appear together or not at all, and bad songs fail alone (docs/data-safety.md):
// signals at many points of a render, a full disk, batch folders, and the inputs that
// used to be refused wrongly or late.
#include <gtest/gtest.h>

#include <signal.h>
#include <sndfile.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "host/files.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::test::run_lacquer;
using lq::test::write_audio_file;
using lq::test::write_text_file;
using nlohmann::json;

namespace {

constexpr int kRate = 48000;

std::vector<std::vector<float>> tone(int frames, double f, float level = 0.2f) {
  std::vector<std::vector<float>> t(2, std::vector<float>(static_cast<size_t>(frames)));
  for (size_t i = 0; i < t[0].size(); ++i) {
    t[0][i] = level * static_cast<float>(std::sin(f * double(i)));
    t[1][i] = level * static_cast<float>(std::cos(f * 1.3 * double(i)));
  }
  return t;
}

json read_json(const fs::path& p) { return json::parse(lq::test::read_text_file(p)); }

std::string xxh128_of(const fs::path& p) {
  const std::string b = lq::test::read_text_file(p);
  const auto h = XXH3_128bits(b.data(), b.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

// A song with a reverb and a deliverable, `seconds` long.
fs::path song(double seconds) {
  const fs::path d = lq::test::fresh_dir();
  const int n = static_cast<int>(seconds * kRate);
  write_audio_file(d / "vox.wav", tone(n, 0.05), kRate);
  write_audio_file(d / "drums.wav", tone(n, 0.011, 0.3f), kRate);
  write_audio_file(d / "ir.wav", tone(kRate / 2, 0.3, 0.05f), kRate);
  write_text_file(d / "s.toml", R"(
[reverbs.room]
ir = "ir.wav"
[stems.vox]
file = "vox.wav"
group = "vocals"
sends = [ { reverb = "room", level_db = -12.0 } ]
[stems.drums]
file = "drums.wav"
group = "drums"
[master]
target_lufs = -12.0
[deliverables.web]
target_lufs = -16.0
bit_depth = 16
)");
  return d;
}

const std::set<std::string> kInputs = {"vox.wav", "drums.wav", "ir.wav", "s.toml"};

// Either every output of the render exists and matches the report's checksums, or none does; and
// no temporary is left. Returns whether the outputs exist.
bool all_or_nothing(const fs::path& d) {
  std::set<std::string> outputs;
  for (const auto& name : lq::test::list_dir(d)) {
    EXPECT_FALSE(lq::is_lacquer_temporary(name)) << "temporary left: " << name;
    if (!kInputs.count(name)) outputs.insert(name);
  }
  if (outputs.empty()) return false;
  EXPECT_EQ(outputs, (std::set<std::string>{"a.wav", "a-web.wav", "a.json"}));
  if (!outputs.count("a.json")) return true;
  const json r = read_json(d / "a.json");
  EXPECT_EQ(r["output"]["xxh3_128"], xxh128_of(d / "a.wav"));
  EXPECT_EQ(r["deliverables"][0]["xxh3_128"], xxh128_of(d / "a-web.wav"));
  return true;
}

TEST(RenderSignals, AfterSigintSigtermOrSigkillAtAnyPointEitherEveryOutputOrNone) {
  const fs::path d = song(20.0);
  const std::vector<std::string> args = {"render", (d / "s.toml").string(), "-o", (d / "a.wav").string(), "--threads", "1", "-q"};
  // The render's length on this machine, to spread the signals over it.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_lacquer(args).exit_code, 0);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(all_or_nothing(d));
  int complete = 0, none = 0;
  for (const int sig : {SIGINT, SIGTERM, SIGKILL}) {
    for (int k = 0; k <= 8; ++k) {
      for (const auto& o : {"a.wav", "a-web.wav", "a.json"}) fs::remove(d / o);
      const int pid = lq::test::start_lacquer(args, d / "out.log", d / "err.log");
      // k = 0..7 spread over the render's length; k = 8 well after it (3x), so that a render slowed
      // by other work on the machine still finishes before one signal.
      std::this_thread::sleep_for(std::chrono::duration<double>(k < 8 ? wall * k / 7.0 : wall * 3.0));
      ::kill(pid, sig);
      const int code = lq::test::wait_lacquer(pid);
      fs::remove(d / "out.log");
      fs::remove(d / "err.log");
      const bool exists = all_or_nothing(d);
      (exists ? complete : none) += 1;
      if (!exists) {
        EXPECT_EQ(code, 128 + sig) << "signal " << sig << " at step " << k;
      }
    }
  }
  EXPECT_GT(none, 0) << "no signal arrived during a render";
  EXPECT_GT(complete, 0) << "no render finished before its signal";
}

// ---- a full disk ----

class SmallDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = song(0.5);
    small_ = dir_ / "small";
    fs::create_directory(small_);
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root (CI runs as root)";
    if (::mount("tmpfs", small_.c_str(), "tmpfs", 0, "size=320k") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(small_.c_str(), MNT_DETACH);
  }
  fs::path dir_, small_;
  bool mounted_ = false;
};

TEST_F(SmallDisk, AMasterThatDoesNotFitLeavesNeitherItNorItsDeliverable) {
  // 1 s with the reverb's tail: the 16-bit deliverable (192 KB) fits, the 24-bit master (288 KB)
  // beside it does not.
  const auto r = run_lacquer({"render", (dir_ / "s.toml").string(), "-o", (small_ / "a.wav").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("a.wav"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No space left"), std::string::npos) << r.err;
  EXPECT_TRUE(lq::test::list_dir(small_).empty());
}

TEST_F(SmallDisk, AReportThatDoesNotFitLeavesNoMaster) {
  {  // the disk filled to its last byte
    std::ofstream filler(small_ / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    for (int i = 0; i < 1000 && filler.write(block.data(), block.size()).flush(); ++i) {
    }
  }
  const auto r = run_lacquer({"render", (dir_ / "s.toml").string(), "-o", (dir_ / "a.wav").string(), "--report",
                              (small_ / "r.json").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("r.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "a.wav"));
  EXPECT_FALSE(fs::exists(dir_ / "a-web.wav"));
  EXPECT_EQ(lq::test::list_dir(small_), std::vector<std::string>{"filler"});
  for (const auto& name : lq::test::list_dir(dir_)) EXPECT_FALSE(lq::is_lacquer_temporary(name)) << name;
}

// ---- batch folders ----

fs::path catalog(const std::vector<std::string>& ids) {
  const fs::path cat = lq::test::fresh_dir() / "cat";
  for (size_t i = 0; i < ids.size(); ++i) {
    fs::create_directories(cat / ids[i]);
    write_audio_file(cat / ids[i] / "vox.wav", tone(kRate / 2, 0.02 + 0.01 * double(i)), kRate);
  }
  return cat;
}

TEST(BatchFolders, StaleCleanupRemovesOnlyLacquersOwnTemporaries) {
  const fs::path cat = catalog({"one"});
  const fs::path out = cat.parent_path() / "out";
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", out.string(), "-q"}).exit_code, 0);
  const fs::path ours = out / "one" / ".lacquer-123-0123456789abcdef.tmp";
  const fs::path users = out / "one" / "take.tmp-1.wav";
  write_text_file(ours, "x");
  write_text_file(users, "mine");
  write_text_file(out / "one" / ".lacquer-123-0123456789ABCDEF.tmp", "not our pattern (upper case)");
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", out.string(), "-q", "--force"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(ours));
  EXPECT_EQ(lq::test::read_text_file(users), "mine");
  EXPECT_TRUE(fs::exists(out / "one" / ".lacquer-123-0123456789ABCDEF.tmp"));
}

TEST(BatchFolders, ASongFolderThatIsASymlinkFailsThatSongAndWritesNothingThere) {
  const fs::path cat = catalog({"one", "two"});
  const fs::path out = cat.parent_path() / "out", elsewhere = cat.parent_path() / "elsewhere";
  fs::create_directories(out);
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, out / "one");
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "-q"});
  EXPECT_EQ(r.exit_code, 1);
  const json s = read_json(out / "summary.json");
  EXPECT_EQ(s["songs"][0]["status"], "failed");
  EXPECT_NE(s["songs"][0]["error"].get<std::string>().find("symbolic link"), std::string::npos);
  EXPECT_EQ(s["songs"][1]["status"], "rendered");
  EXPECT_TRUE(lq::test::list_dir(elsewhere).empty());
}

TEST(BatchFolders, AFifoAsAStemOrAsAReportFailsThatSongAndTheSummaryIsWritten) {
  const fs::path cat = catalog({"one", "two", "three"});
  const fs::path out = cat.parent_path() / "out";
  ASSERT_EQ(::mkfifo((cat / "one" / "pipe.wav").c_str(), 0644), 0);
  fs::create_directories(out / "two");
  ASSERT_EQ(::mkfifo((out / "two" / "report.json").c_str(), 0644), 0);
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "-q"});
  EXPECT_EQ(r.exit_code, 1);
  const json s = read_json(out / "summary.json");
  std::map<std::string, json> by;
  for (const auto& song : s["songs"]) by[song["id"].get<std::string>()] = song;
  EXPECT_EQ(by["one"]["status"], "failed");
  EXPECT_NE(by["one"]["error"].get<std::string>().find("pipe.wav: is a FIFO"), std::string::npos) << by["one"];
  EXPECT_EQ(by["two"]["status"], "failed");
  EXPECT_NE(by["two"]["error"].get<std::string>().find("report.json: is a FIFO"), std::string::npos) << by["two"];
  EXPECT_EQ(by["three"]["status"], "rendered");
  EXPECT_TRUE(fs::is_fifo(out / "two" / "report.json"));
}

TEST(BatchFolders, AFolderWhoseNameIsNoUsableIdFailsAloneNamingTheFolder) {
  const fs::path cat = catalog({"one", "bad\tname"});
  const fs::path out = cat.parent_path() / "out";
  const auto r = run_lacquer({"batch", cat.string(), "-o", out.string(), "-q"});
  EXPECT_EQ(r.exit_code, 1);
  std::map<std::string, json> by;
  const json summary = read_json(out / "summary.json");
  for (const auto& s : summary["songs"]) by[s["status"].get<std::string>()] = s;
  ASSERT_TRUE(by.count("failed") && by.count("rendered"));
  EXPECT_NE(by["failed"]["error"].get<std::string>().find("bad\\tname"), std::string::npos) << by["failed"];
  EXPECT_EQ(by["rendered"]["id"], "one");
}

TEST(BatchFolders, ABareManifestWithABomWorksFromItsFolderAndAMissingSourceFailsItsRowOnly) {
  const fs::path cat = catalog({"one"});
  const fs::path d = cat.parent_path();
  write_text_file(d / "songs.csv", "\xEF\xBB\xBFid,source\r\nfirst,cat/one\r\nsecond,cat/missing\r\n");
  const auto r = run_lacquer({"batch", "songs.csv", "-o", "out", "-q"}, d);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const json s = read_json(d / "out" / "summary.json");
  ASSERT_EQ(s["songs"].size(), 2u);
  EXPECT_EQ(s["songs"][0]["status"], "rendered");
  EXPECT_EQ(s["songs"][1]["status"], "failed");
  EXPECT_NE(s["songs"][1]["error"].get<std::string>().find("songs.csv:3"), std::string::npos) << s["songs"][1];
  EXPECT_FALSE(fs::exists(d / "out" / "second"));
}

TEST(BatchFolders, GroupsWhoseNamesSanitiseAlikeExportToTwoFilesAndResumeChecksThem) {
  const fs::path d = lq::test::fresh_dir();
  fs::create_directories(d / "cat" / "s");
  write_audio_file(d / "cat" / "s" / "a.wav", tone(kRate / 2, 0.02), kRate);
  write_audio_file(d / "cat" / "s" / "b.wav", tone(kRate / 2, 0.07), kRate);
  write_text_file(d / "cat" / "s" / "session.toml",
                  "[stems.a]\nfile = \"a.wav\"\ngroup = \"a/b\"\n[stems.b]\nfile = \"b.wav\"\ngroup = \"a_b\"\n");
  const fs::path out = d / "out";
  ASSERT_EQ(run_lacquer({"batch", (d / "cat").string(), "-o", out.string(), "-q", "--export-groups"}).exit_code, 0);
  const json report = read_json(out / "s" / "report.json");
  ASSERT_EQ(report["exported_groups"].size(), 2u);
  std::set<std::string> files;
  for (const auto& g : report["exported_groups"]) {
    const fs::path p = g["path"].get<std::string>();
    files.insert(p.filename().string());
    EXPECT_EQ(g["xxh3_128"], xxh128_of(p));
  }
  EXPECT_EQ(files, (std::set<std::string>{"a_b.wav", "a_b-2.wav"}));
  EXPECT_NE(xxh128_of(out / "s" / "groups" / "a_b.wav"), xxh128_of(out / "s" / "groups" / "a_b-2.wav"));
  // Resume: a missing or truncated group file is noticed and the song rendered again.
  auto status = [&] {
    EXPECT_EQ(run_lacquer({"batch", (d / "cat").string(), "-o", out.string(), "-q", "--export-groups"}).exit_code, 0);
    return read_json(out / "summary.json")["songs"][0]["status"].get<std::string>();
  };
  EXPECT_EQ(status(), "skipped");
  fs::remove(out / "s" / "groups" / "a_b-2.wav");
  EXPECT_EQ(status(), "rendered");
  fs::resize_file(out / "s" / "groups" / "a_b.wav", 100);
  EXPECT_EQ(status(), "rendered");
  EXPECT_EQ(status(), "skipped");
}

// ---- inputs refused wrongly or late before ----

TEST(RenderInputs, AFlacWithoutATotalLengthIsRead) {
  const fs::path d = lq::test::fresh_dir();
  write_audio_file(d / "x.flac", tone(kRate, 0.03), kRate, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  // STREAMINFO's 36-bit total sample count (bytes 21-25 after "fLaC" and the block header) set to
  // 0, "unknown", as an encoder writing to a pipe leaves it.
  std::fstream f(d / "x.flac", std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(21);
  char b21 = 0;
  f.read(&b21, 1);
  f.seekp(21);
  const char zeros[5] = {static_cast<char>(b21 & 0xF0), 0, 0, 0, 0};
  f.write(zeros, 5);
  f.close();
  const auto m = run_lacquer({"measure", (d / "x.flac").string(), "--json"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NEAR(json::parse(m.out)[0]["duration_s"].get<double>(), 1.0, 1e-9);
  const auto r2 = run_lacquer({"render", d.string(), "-o", (d / "m.wav").string(), "-q"});
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(read_json(d / "m.json")["master"]["frames"], kRate);
}

TEST(RenderInputs, ASongShorterThanOneOutputSampleIsRefusedWithNoOutput) {
  const fs::path d = lq::test::fresh_dir();
  write_audio_file(d / "x.wav", {{0.5f}, {0.5f}}, kRate);
  write_text_file(d / "s.toml", "[stems.x]\nfile = \"x.wav\"\ngroup = \"g\"\n[master]\nsample_rate = 8000\n");
  const auto r = run_lacquer({"render", (d / "s.toml").string(), "-o", (d / "m.wav").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("shorter than one sample"), std::string::npos) << r.err;
  EXPECT_EQ(lq::test::list_dir(d), (std::vector<std::string>{"s.toml", "x.wav"}));
}

TEST(RenderInputs, AMixThatOverflowsFailsNamingTheStageInsteadOfWritingZeros) {
  const fs::path d = lq::test::fresh_dir();
  const std::vector<std::vector<float>> huge(2, std::vector<float>(kRate, 3e38f));
  write_audio_file(d / "a.wav", huge, kRate);
  write_audio_file(d / "b.wav", huge, kRate);
  write_text_file(d / "s.toml", "[stems.a]\nfile = \"a.wav\"\ngroup = \"g\"\n[stems.b]\nfile = \"b.wav\"\ngroup = \"g\"\n");
  const auto r = run_lacquer({"render", (d / "s.toml").string(), "-o", (d / "m.wav").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not finite after"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "m.wav"));
}

TEST(RenderInputs, AMixBeyondTheMetersRangeIsRefusedNotCalledSilent) {
  const fs::path d = lq::test::fresh_dir();
  write_audio_file(d / "a.wav", tone(kRate, 0.05, 1e36f), kRate);
  write_text_file(d / "s.toml",
                  "[stems.a]\nfile = \"a.wav\"\ngroup = \"g\"\neq = [ { type = \"bell\", freq_hz = 1000.0, gain_db = 6.0, q = 1.0 } ]\n"
                  "[master]\ntarget_lufs = -14.0\n");
  const auto r = run_lacquer({"render", (d / "s.toml").string(), "-o", (d / "m.wav").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out.find("silent"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d / "m.wav"));
}

TEST(RenderInputs, AnImpulseResponseOverSixtySecondsIsRefusedFromItsHeader) {
  const fs::path d = lq::test::fresh_dir();
  write_audio_file(d / "x.wav", tone(kRate / 2, 0.05), kRate);
  // A FLAC header that declares 61 s over a file cut after its first blocks: refused from the
  // header (decoding first would find the file truncated instead).
  std::vector<float> noise(8000 * 61);
  uint32_t x = 1;
  for (float& v : noise) v = float((x = x * 1664525u + 1013904223u) >> 8) / float(1 << 24) * 0.2f - 0.1f;
  write_audio_file(d / "ir.flac", {noise}, 8000, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  fs::resize_file(d / "ir.flac", 4096);
  write_text_file(d / "s.toml", "[reverbs.r]\nir = \"ir.flac\"\n[stems.x]\nfile = \"x.wav\"\ngroup = \"g\"\n"
                                "sends = [ { reverb = \"r\", level_db = -6.0 } ]\n");
  const auto r = run_lacquer({"render", (d / "s.toml").string(), "-o", (d / "m.wav").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ir.flac: impulse response is 61 s long (at most 60 s)"), std::string::npos) << r.err;
}

TEST(RenderInputs, AnOutputNameNear255BytesIsWritten) {
  const fs::path d = lq::test::fresh_dir();
  write_audio_file(d / "x.wav", tone(kRate / 2, 0.05), kRate);
  const std::string name = std::string(250, 'm') + ".wav";  // the report: 250 + ".json" = 255 bytes
  const auto r = run_lacquer({"render", d.string(), "-o", (d / name).string(), "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(d / name));
  EXPECT_TRUE(fs::exists(d / (std::string(250, 'm') + ".json")));
}

TEST(MeasureCli, OneBadFileDoesNotHideTheOthersFigures) {
  const fs::path d = lq::test::fresh_dir();
  write_audio_file(d / "good.wav", tone(kRate, 0.05), kRate);
  write_text_file(d / "bad.wav", "not audio");
  const auto r = run_lacquer({"measure", (d / "good.wav").string(), (d / "bad.wav").string(), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_TRUE(j[0]["integrated_lufs"].is_number());
  EXPECT_NE(j[1]["error"].get<std::string>().find("bad.wav"), std::string::npos);
  EXPECT_NE(r.err.find("bad.wav"), std::string::npos);
}

}  // namespace
