// Data safety (docs/data-safety.md): a table of path conflicts and special files for
// `lacquer render`, `batch` and `summary`. Each case asserts the exit code, one line on stderr with
// the expected words, that every file in the fixture has the same bytes afterwards and that no new
// file exists (nothing written, nothing moved, nothing left behind).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <map>

#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::test::write_audio_file;
using lq::test::write_text_file;

namespace {

constexpr int kRate = 48000;

std::vector<std::vector<float>> tone(int frames, double f) {
  std::vector<std::vector<float>> t(2, std::vector<float>(static_cast<size_t>(frames)));
  for (size_t i = 0; i < t[0].size(); ++i) {
    t[0][i] = 0.2f * static_cast<float>(std::sin(f * double(i)));
    t[1][i] = 0.2f * static_cast<float>(std::cos(f * double(i)));
  }
  return t;
}

const char* kSession = R"(
[reverbs.room]
ir = "ir.wav"
[stems.vox]
file = "vox.wav"
group = "vocals"
sends = [ { reverb = "room", level_db = -12.0 } ]
[stems.drums]
file = "drums.wav"
group = "drums"
[deliverables.web]
target_lufs = -16.0
)";

// The fixture: a session with two stems, an IR and a deliverable; a second session named mix.json;
// a catalog of two song folders; a manifest.
fs::path fixture() {
  const fs::path d = lq::test::fresh_dir();
  write_audio_file(d / "vox.wav", tone(kRate / 2, 0.05), kRate);
  write_audio_file(d / "drums.wav", tone(kRate / 2, 0.01), kRate);
  write_audio_file(d / "ir.wav", tone(kRate / 20, 0.3), kRate);
  write_text_file(d / "s.toml", kSession);
  write_text_file(d / "mix.json", kSession);
  for (const char* song : {"one", "two"}) {
    fs::create_directories(d / "cat" / song);
    write_audio_file(d / "cat" / song / "vox.wav", tone(kRate / 2, 0.02), kRate);
  }
  write_text_file(d / "songs.csv", "id,source\na,cat/one\n");
  return d;
}

// Every entry under `dir` (relative path -> type and bytes), without following symlinks.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> m;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const auto st = it->symlink_status();
    const std::string rel = it->path().lexically_relative(dir).string();
    if (fs::is_symlink(st)) {
      m[rel] = "link:" + fs::read_symlink(it->path()).string();
      it.disable_recursion_pending();
    } else if (fs::is_regular_file(st)) {
      m[rel] = "file:" + lq::test::read_text_file(it->path());
    } else if (fs::is_directory(st)) {
      m[rel] = "dir";
    } else {
      m[rel] = "special";
    }
  }
  return m;
}

struct Case {
  const char* name;
  std::vector<std::string> args;            // "@" is replaced by the fixture's folder
  int exit_code;
  std::vector<std::string> words;           // each must be in the one-line message
  std::function<void(const fs::path&)> setup = nullptr;
  bool in_fixture = false;                  // run with the fixture as working folder
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string at(const std::string& a, const fs::path& d) {
  std::string s = a;
  for (size_t p; (p = s.find('@')) != std::string::npos;) s.replace(p, 1, d.string());
  return s;
}

void fifo(const fs::path& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0) << p; }

class DataSafety : public ::testing::TestWithParam<Case> {};

TEST_P(DataSafety, RefusesWithOneLineAndTouchesNothing) {
  const Case& c = GetParam();
  const fs::path d = fixture();
  if (c.setup) c.setup(d);
  if (::testing::Test::IsSkipped()) return;
  const auto before = snapshot(d);
  struct stat null_before {};
  ASSERT_EQ(::stat("/dev/null", &null_before), 0);
  std::vector<std::string> args;
  for (const auto& a : c.args) args.push_back(at(a, d));
  const auto r = lq::test::run_lacquer(args, c.in_fixture ? d : fs::path());
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  for (const auto& w : c.words) EXPECT_NE(r.err.find(w), std::string::npos) << "'" << w << "' not in: " << r.err;
  EXPECT_EQ(snapshot(d), before) << "the fixture changed";
  struct stat null_after {};
  ASSERT_EQ(::stat("/dev/null", &null_after), 0);
  EXPECT_TRUE(S_ISCHR(null_after.st_mode)) << "/dev/null is no longer a device";
}

const std::vector<Case> kCases = {
    // ---- render: the report against the inputs and the other outputs ----
    {"ReportIsTheSession", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/s.toml"}, 2, {"s.toml", "session file"}},
    {"ReportIsTheSessionRelative", {"render", "s.toml", "-o", "a.wav", "--report", "s.toml"}, 2, {"session file"}, nullptr, true},
    {"ReportIsTheIr", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/ir.wav"}, 2, {"impulse response"}},
    {"ReportIsAStem", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/vox.wav"}, 2, {"stem 'vox'"}},
    {"ReportIsTheDeliverable", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/a-web.wav"}, 2, {"deliverable 'web'"}},
    {"ReportIsTheMasterWithDotSlash", {"render", "s.toml", "-o", "a.wav", "--report", "./a.wav"}, 2, {"master"}, nullptr, true},
    {"ReportIsTheMasterThroughDotDot", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/cat/../a.wav"}, 2, {"master"}},
    {"ReportIsTheMasterAbsoluteAgainstRelative", {"render", "s.toml", "-o", "a.wav", "--report", "@/a.wav"}, 2, {"master"}, nullptr, true},
    {"ReportIsTheMasterIgnoringCase", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/A.WAV"}, 2, {"same file"}},
    // The fixture's own device node and /dev/stdout-like symlink: a regression must not be able to
    // replace the machine's /dev/null while the test runs.
    {"ReportIsADevice", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/null"}, 2, {"null", "device"},
     [](const fs::path& d) {
       if (::mknod((d / "null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) GTEST_SKIP() << "mknod needs root";
     }},
    {"ReportIsAStdoutSymlink", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/stdout"}, 2, {"symbolic link"},
     [](const fs::path& d) { fs::create_symlink("/proc/self/fd/1", d / "stdout"); }},
    {"ReportIsASymlinkToTheSession", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/r.json"}, 2, {"r.json"},
     [](const fs::path& d) { fs::create_symlink(d / "s.toml", d / "r.json"); }},
    {"ReportIsAHardLinkToAStem", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/r.json"}, 2, {"stem 'vox'"},
     [](const fs::path& d) { fs::create_hard_link(d / "vox.wav", d / "r.json"); }},
    {"ReportIsAFifo", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/r.json"}, 2, {"FIFO"},
     [](const fs::path& d) { fifo(d / "r.json"); }},
    {"ReportIsAFolder", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/cat"}, 2, {"directory"}},
    {"DefaultReportIsAJsonSession", {"render", "@/mix.json", "-o", "@/mix.wav"}, 2, {"mix.json", "session file"}},
    {"ReportFolderMissing", {"render", "@/s.toml", "-o", "@/a.wav", "--report", "@/nowhere/r.json"}, 1, {"nowhere"}},
    // ---- render: the master and the deliverables against the inputs ----
    {"MasterIsAStem", {"render", "@/s.toml", "-o", "@/vox.wav"}, 2, {"stem 'vox'"}},
    {"MasterIsAStemWithDotSegments", {"render", "@/s.toml", "-o", "@/./cat/../vox.wav"}, 2, {"stem 'vox'"}},
    {"MasterIsAStemThroughASymlinkedFolder", {"render", "@/s.toml", "-o", "@/alias/vox.wav"}, 2, {"stem 'vox'"},
     [](const fs::path& d) { fs::create_directory_symlink(d, d / "alias"); }},
    {"MasterIsTheIr", {"render", "@/s.toml", "-o", "@/ir.wav"}, 2, {"impulse response"}},
    {"MasterIsAHardLinkToTheIr", {"render", "@/s.toml", "-o", "@/h.wav"}, 2, {"impulse response"},
     [](const fs::path& d) { fs::create_hard_link(d / "ir.wav", d / "h.wav"); }},
    {"MasterIsASymlink", {"render", "@/s.toml", "-o", "@/l.wav"}, 2, {"symbolic link"},
     [](const fs::path& d) { fs::create_symlink(d / "elsewhere.wav", d / "l.wav"); }},
    {"MasterIsAFifo", {"render", "@/s.toml", "-o", "@/f.wav"}, 2, {"FIFO"}, [](const fs::path& d) { fifo(d / "f.wav"); }},
    {"MasterIsAFolder", {"render", "@/s.toml", "-o", "@/d.wav"}, 2, {"directory"},
     [](const fs::path& d) { fs::create_directory(d / "d.wav"); }},
    {"MasterWithATrailingSlash", {"render", "@/s.toml", "-o", "@/a.wav/"}, 2, {"a.wav"}},
    {"MasterFolderMissing", {"render", "@/s.toml", "-o", "@/nowhere/a.wav"}, 1, {"nowhere", "does not exist"}},
    {"MasterFormatUnknown", {"render", "@/s.toml", "-o", "@/a.mp3"}, 2, {"a.mp3", "unknown output format"}},
    {"DeliverableNameIsAStemOfTheSession", {"render", "@/d.toml", "-o", "@/a.wav"}, 1, {"deliverable 'web'", "stem 'x'"},
     [](const fs::path& d) {
       fs::copy_file(d / "vox.wav", d / "a-web.wav");
       write_text_file(d / "d.toml", "[stems.x]\nfile = \"a-web.wav\"\ngroup = \"g\"\n[deliverables.web]\ntarget_lufs = -16.0\n");
     }},
    {"DeliverableIsAFifo", {"render", "@/s.toml", "-o", "@/a.wav"}, 1, {"a-web.wav", "FIFO"},
     [](const fs::path& d) { fifo(d / "a-web.wav"); }},
    // ---- render: numbers and special inputs ----
    {"TargetNan", {"render", "@/s.toml", "-o", "@/a.wav", "--target-lufs", "nan"}, 2, {"--target-lufs", "finite"}},
    {"TargetInf", {"render", "@/s.toml", "-o", "@/a.wav", "--target-lufs", "-inf"}, 2, {"--target-lufs", "finite"}},
    {"CeilingNan", {"render", "@/s.toml", "-o", "@/a.wav", "--ceiling-dbtp", "nan"}, 2, {"--ceiling-dbtp", "finite"}},
    {"SessionIsAFifo", {"render", "@/f.toml", "-o", "@/a.wav"}, 1, {"f.toml", "FIFO"}, [](const fs::path& d) { fifo(d / "f.toml"); }},
    {"SessionIsDevZero", {"render", "/dev/zero", "-o", "@/a.wav"}, 1, {"/dev/zero", "device"}},
    {"SessionOverTheTextLimit", {"render", "@/big.toml", "-o", "@/a.wav"}, 1, {"big.toml", "more than a text input"},
     [](const fs::path& d) {
       write_text_file(d / "big.toml", "");
       fs::resize_file(d / "big.toml", (int64_t{64} << 20) + 1);  // sparse: 64 MiB + 1 byte
     }},
    {"SessionIsASymlinkLoop", {"render", "@/loop1", "-o", "@/a.wav"}, 1, {"loop1", "symbolic links"},
     [](const fs::path& d) {
       fs::create_symlink(d / "loop2", d / "loop1");
       fs::create_symlink(d / "loop1", d / "loop2");
     }},
    {"StemIsAFifo", {"render", "@/p.toml", "-o", "@/a.wav"}, 1, {"p.wav", "FIFO"},
     [](const fs::path& d) {
       fifo(d / "p.wav");
       write_text_file(d / "p.toml", "[stems.p]\nfile = \"p.wav\"\ngroup = \"g\"\n");
     }},
    {"StemInAFolderIsAFifo", {"render", "@/cat/one", "-o", "@/a.wav"}, 1, {"zz.wav", "FIFO"},
     [](const fs::path& d) { fifo(d / "cat" / "one" / "zz.wav"); }},
    {"IrIsAFifo", {"render", "@/q.toml", "-o", "@/a.wav"}, 1, {"q.wav", "FIFO"},
     [](const fs::path& d) {
       fifo(d / "q.wav");
       write_text_file(d / "q.toml", "[reverbs.r]\nir = \"q.wav\"\n[stems.vox]\nfile = \"vox.wav\"\ngroup = \"g\"\n"
                                     "sends = [ { reverb = \"r\", level_db = -6.0 } ]\n");
     }},
    {"FractionalSampleRate", {"render", "@/r.toml", "-o", "@/a.wav"}, 1, {"r.toml", "sample_rate", "whole number"},
     [](const fs::path& d) { write_text_file(d / "r.toml", "sample_rate = 44100.5\n[stems.vox]\nfile = \"vox.wav\"\ngroup = \"g\"\n"); }},
    // ---- batch: the output folder against the catalog and the sources ----
    {"BatchOutIsTheCatalog", {"batch", "@/cat", "-o", "@/cat"}, 2, {"overlaps"}},
    {"BatchOutInsideTheCatalog", {"batch", "@/cat", "-o", "@/cat/masters"}, 2, {"overlaps"}},
    {"BatchOutIsASongFolder", {"batch", "@/cat", "-o", "@/cat/one/"}, 2, {"overlaps"}},
    {"BatchOutContainsTheCatalog", {"batch", "@/cat", "-o", "@"}, 2, {"overlaps"}},
    {"BatchOutContainsTheCatalogRelative", {"batch", "cat", "-o", "."}, 2, {"overlaps"}, nullptr, true},
    {"BatchOutIsAManifestSource", {"batch", "@/songs.csv", "-o", "@/cat/one/out"}, 2, {"overlaps", "song 'a'"}},
    {"BatchOutContainsAManifestSource", {"batch", "songs.csv", "-o", "cat"}, 2, {"overlaps"}, nullptr, true},
    {"BatchOutThroughASymlinkToTheCatalog", {"batch", "@/cat", "-o", "@/alias/x"}, 2, {"overlaps"},
     [](const fs::path& d) { fs::create_directory_symlink(d / "cat", d / "alias"); }},
    {"BatchIdIsTheSummary", {"batch", "@/ids.csv", "-o", "@/out"}, 2, {"summary.json"},
     [](const fs::path& d) { write_text_file(d / "ids.csv", "id,source\nsummary.json,cat/one\n"); }},
    {"BatchIdIsHidden", {"batch", "@/ids.csv", "-o", "@/out"}, 2, {".lock"},
     [](const fs::path& d) { write_text_file(d / "ids.csv", "id,source\n.lock,cat/one\n"); }},
    {"BatchSummaryIsAFifo", {"batch", "@/cat", "-o", "@/out"}, 2, {"summary.json", "FIFO"},
     [](const fs::path& d) {
       fs::create_directory(d / "out");
       fifo(d / "out" / "summary.json");
     }},
    {"BatchManifestIsAFifo", {"batch", "@/m.csv", "-o", "@/out"}, 2, {"m.csv", "FIFO"}, [](const fs::path& d) { fifo(d / "m.csv"); }},
    {"BatchShardNan", {"batch", "@/cat", "-o", "@/out", "--max-inflight-gib", "nan"}, 2, {"finite"}},
    // ---- summary ----
    {"SummaryShardOfZero", {"summary", "@/sum"}, 2, {"summary-shard-0-of-0.json"},
     [](const fs::path& d) {
       fs::create_directories(d / "sum");
       write_text_file(d / "sum" / "summary-shard-0-of-0.json", "{}"); }},
    {"SummaryHugeShardCount", {"summary", "@/sum"}, 2, {"summary-shard-0-of-99999999999.json"},
     [](const fs::path& d) {
       fs::create_directories(d / "sum");
       write_text_file(d / "sum" / "summary-shard-0-of-99999999999.json", "{}"); }},
    {"SummaryShardMissingKeys", {"summary", "@/sum"}, 1, {"summary-shard-0-of-1.json", "not a shard summary"},
     [](const fs::path& d) {
       fs::create_directories(d / "sum");
       write_text_file(d / "sum" / "summary-shard-0-of-1.json", "{\"songs\": [{\"id\": 3}]}"); }},
    {"SummaryShardIsAFifo", {"summary", "@/sum"}, 1, {"summary-shard-0-of-1.json", "FIFO"},
     [](const fs::path& d) {
       fs::create_directory(d / "sum");
       fifo(d / "sum" / "summary-shard-0-of-1.json");
     }},
};

INSTANTIATE_TEST_SUITE_P(Cases, DataSafety, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
