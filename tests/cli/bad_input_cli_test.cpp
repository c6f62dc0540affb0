// Bad input to `lacquer render` (docs/verification.md "Bad input", the cases that apply to one render):
// exit code 1 or 2, exactly one line on stderr naming the file and the problem, no output
// left behind, and the user's files untouched.
#include <gtest/gtest.h>

#include <sndfile.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::test::read_text_file;
using lq::test::write_audio_file;
using lq::test::write_text_file;

namespace {

constexpr int kRate = 48000;

std::vector<std::vector<float>> tone(int channels, int frames) {
  std::vector<std::vector<float>> t(static_cast<size_t>(channels), std::vector<float>(static_cast<size_t>(frames)));
  for (auto& c : t) {
    for (size_t i = 0; i < c.size(); ++i) c[i] = 0.1f * static_cast<float>(std::sin(0.05 * double(i)));
  }
  return t;
}

void patch_u16(const fs::path& p, long offset, uint16_t v) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  const char b[2] = {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  f.write(b, 2);
}

void patch_u32(const fs::path& p, long offset, uint32_t v) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  const char b[4] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
                     static_cast<char>((v >> 16) & 0xff), static_cast<char>(v >> 24)};
  f.write(b, 4);
}

void truncate_to(const fs::path& p, uintmax_t bytes) { fs::resize_file(p, bytes); }

struct Case {
  const char* name;
  const char* bad_file;  // the file the message must name
  std::function<void(const fs::path& dir)> break_it;
  std::vector<std::string> extra_args = {};
  std::string output = "master.wav";
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BadInput : public ::testing::TestWithParam<Case> {};

// A valid session: one stereo stem and a reverb.
fs::path valid_session() {
  const fs::path dir = lq::test::fresh_dir();
  write_audio_file(dir / "stem.wav", tone(2, kRate), kRate, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  write_audio_file(dir / "ir.wav", tone(1, 4800), kRate);
  write_text_file(dir / "session.toml",
                  "[reverbs.room]\nir = \"ir.wav\"\n"
                  "[stems.stem]\nfile = \"stem.wav\"\ngroup = \"music\"\n"
                  "sends = [ { reverb = \"room\", level_db = -12.0 } ]\n");
  return dir;
}

std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[e.path().lexically_relative(dir).string()] = read_text_file(e.path());
  }
  return files;
}

}  // namespace

TEST(BadInput, TheValidSessionRenders) {
  const fs::path dir = valid_session();
  const auto r = lq::test::run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "master.wav").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_P(BadInput, FailsWithOneLineNamingTheFileAndLeavesNothingBehind) {
  const Case& c = GetParam();
  const fs::path dir = valid_session();
  c.break_it(dir);
  const auto before = snapshot(dir);
  std::vector<std::string> args = {"render", (dir / "session.toml").string(), "-o", (dir / c.output).string()};
  args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
  const auto r = lq::test::run_lacquer(args);
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << "exit code " << r.exit_code << "\n" << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(c.bad_file), std::string::npos) << "message does not name " << c.bad_file << ": " << r.err;
  EXPECT_EQ(snapshot(dir), before) << "files were added, removed or changed";
}

INSTANTIATE_TEST_SUITE_P(
    Render, BadInput,
    ::testing::Values(
        Case{"MissingStem", "stem.wav", [](const fs::path& d) { fs::remove(d / "stem.wav"); }},
        Case{"EmptyStem", "stem.wav", [](const fs::path& d) { truncate_to(d / "stem.wav", 0); }},
        Case{"TextRenamedWav", "stem.wav", [](const fs::path& d) { write_text_file(d / "stem.wav", "this is not audio\n"); }},
        Case{"HeaderCutMidFmt", "stem.wav", [](const fs::path& d) { truncate_to(d / "stem.wav", 30); }},
        Case{"NoFrames", "stem.wav", [](const fs::path& d) { write_audio_file(d / "stem.wav", {{}, {}}, kRate, SF_FORMAT_WAV | SF_FORMAT_PCM_16); }},
        Case{"DataChunkLongerThanFile", "stem.wav", [](const fs::path& d) { truncate_to(d / "stem.wav", 44 + 4000); }},
        Case{"DataSizeAllOnes", "stem.wav", [](const fs::path& d) { patch_u32(d / "stem.wav", 40, 0xFFFFFFFFu); }},
        Case{"TruncatedFlac", "stem.flac", [](const fs::path& d) {
               write_audio_file(d / "stem.flac", tone(2, 5 * kRate), kRate, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
               truncate_to(d / "stem.flac", fs::file_size(d / "stem.flac") / 2);
               write_text_file(d / "session.toml", "[stems.stem]\nfile = \"stem.flac\"\ngroup = \"music\"\n");
             }},
        Case{"ThreeChannels", "stem.wav", [](const fs::path& d) { write_audio_file(d / "stem.wav", tone(3, kRate), kRate); }},
        Case{"ZeroChannels", "stem.wav", [](const fs::path& d) { patch_u16(d / "stem.wav", 22, 0); }},
        Case{"ThousandChannels", "stem.wav", [](const fs::path& d) { patch_u16(d / "stem.wav", 22, 1024); }},
        Case{"SampleRateZero", "stem.wav", [](const fs::path& d) { patch_u32(d / "stem.wav", 24, 0); }},
        Case{"SampleRateOneHertz", "stem.wav", [](const fs::path& d) { patch_u32(d / "stem.wav", 24, 1); }},
        Case{"SampleRateOneGigahertz", "stem.wav", [](const fs::path& d) { patch_u32(d / "stem.wav", 24, 1000000000u); }},
        Case{"SevenBitPcm", "stem.wav", [](const fs::path& d) { patch_u16(d / "stem.wav", 34, 7); }},
        Case{"NaNSamples", "stem.wav", [](const fs::path& d) {
               auto sig = tone(2, kRate);
               sig[1][1234] = std::numeric_limits<float>::quiet_NaN();
               write_audio_file(d / "stem.wav", sig, kRate);
             }},
        Case{"InfSamples", "stem.wav", [](const fs::path& d) {
               auto sig = tone(2, kRate);
               sig[0][10] = std::numeric_limits<float>::infinity();
               write_audio_file(d / "stem.wav", sig, kRate);
             }},
        Case{"StemIsAFolder", "stem.wav", [](const fs::path& d) { fs::remove(d / "stem.wav"); fs::create_directory(d / "stem.wav"); }},
        Case{"BrokenSymlink", "stem.wav", [](const fs::path& d) { fs::remove(d / "stem.wav"); fs::create_symlink(d / "gone.wav", d / "stem.wav"); }},
        Case{"EmptyImpulseResponse", "ir.wav", [](const fs::path& d) { truncate_to(d / "ir.wav", 0); }},
        Case{"NaNImpulseResponse", "ir.wav", [](const fs::path& d) {
               auto sig = tone(1, 4800);
               sig[0][7] = std::numeric_limits<float>::quiet_NaN();
               write_audio_file(d / "ir.wav", sig, kRate);
             }},
        Case{"UnknownSessionKey", "session.toml", [](const fs::path& d) {
               write_text_file(d / "session.toml", "[stems.stem]\nfile = \"stem.wav\"\ngroup = \"music\"\ngian_db = 3.0\n");
             }},
        Case{"ValueOutOfRange", "session.toml", [](const fs::path& d) {
               write_text_file(d / "session.toml", "[stems.stem]\nfile = \"stem.wav\"\ngroup = \"music\"\ngain_db = 100.0\n");
             }},
        Case{"WrongType", "session.toml", [](const fs::path& d) {
               write_text_file(d / "session.toml", "[stems.stem]\nfile = \"stem.wav\"\ngroup = \"music\"\ngain_db = \"loud\"\n");
             }},
        Case{"NotToml", "session.toml", [](const fs::path& d) { write_text_file(d / "session.toml", "[stems.stem\nfile = \n"); }},
        Case{"OutputFolderMissing", "no_such_folder", [](const fs::path&) {}, {}, "no_such_folder/master.wav"},
        Case{"OutputIsAnInput", "stem.wav", [](const fs::path&) {}, {}, "stem.wav"},
        Case{"UnknownOutputFormat", "master.mp3", [](const fs::path&) {}, {}, "master.mp3"},
        Case{"ReportFolderMissing", "/no_such_lacquer_folder", [](const fs::path&) {}, {"--report", "/no_such_lacquer_folder/r.json"}}),
    [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

// A stem whose samples are bad is found only when it is decoded, inside the stem loop, where on
// two threads the stems run in parallel: the error is that stem's, alone, and nothing is left.
TEST(BadInput, ABadStemAmongSixRenderedInParallelIsTheOneNamed) {
  const fs::path dir = lq::test::fresh_dir();
  std::string toml;
  for (int i = 0; i < 6; ++i) {
    auto sig = tone(2, kRate);
    if (i == 3) sig[0][kRate / 2] = std::numeric_limits<float>::quiet_NaN();
    const std::string name = std::string(1, 's').append(std::to_string(i));
    write_audio_file(dir / (name + ".wav"), sig, kRate);
    toml.append("[stems.").append(name).append("]\nfile = \"").append(name).append(".wav\"\n");
    toml.append("group = \"music\"\neq = [ { type = \"bell\", freq_hz = 1000.0, gain_db = 2.0, q = 1.0 } ]\n");
    toml.append("compressor = { threshold_db = -30.0, ratio = 4.0 }\n");
  }
  write_text_file(dir / "session.toml", toml);
  const auto before = snapshot(dir);
  for (const char* threads : {"2", "1"}) {
    const auto r = lq::test::run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "master.wav").string(),
                                          "--threads", threads});
    EXPECT_EQ(r.exit_code, 1) << threads << " threads: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("s3.wav"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("NaN"), std::string::npos) << r.err;
    EXPECT_EQ(snapshot(dir), before) << threads << " threads: files were added, removed or changed";
  }
}

TEST(BadInput, MissingSessionFileIsNamed) {
  const fs::path dir = lq::test::fresh_dir();
  const auto r = lq::test::run_lacquer({"render", (dir / "nope.toml").string(), "-o", (dir / "m.wav").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.toml"), std::string::npos) << r.err;
  EXPECT_TRUE(lq::test::list_dir(dir).empty());
}

TEST(BadInput, UnknownOptionIsAUsageError) {
  const auto r = lq::test::run_lacquer({"render", "x.toml", "-o", "m.wav", "--loudness", "3"});
  EXPECT_EQ(r.exit_code, 2);
}
