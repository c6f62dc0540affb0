// `lacquer measure --album`: the files' figures as one album (host/loudness.hpp album_loudness):
// their 400 ms blocks gated together, against libebur128's ebur128_loudness_global_multiple (the
// album gain of ReplayGain 2) and, within 0.1 LU, libebur128 over the files played in sequence;
// each file's loudness against the album's; and the album's loudness range, which for three steady
// songs 6 dB apart spans the loudest to the quietest (Tech 3342's gates keep all three).
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

// `seconds` of stereo noise at `level` (RMS), with a slow 2 dB swell so the blocks differ.
std::vector<std::vector<float>> steady_song(double seconds, double level, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  const auto n = static_cast<size_t>(seconds * 48000);
  std::vector<std::vector<float>> x(2, std::vector<float>(n));
  for (size_t i = 0; i < n; ++i) {
    const double swell = std::pow(10.0, std::sin(double(i) / 48000.0) / 20.0);
    for (auto& c : x) c[i] = static_cast<float>(level * swell * g(rng));
  }
  return x;
}

}  // namespace

TEST(MeasureAlbum, TheFilesBlocksAreGatedTogetherAsLibebur128AndReplayGainDo) {
  std::mt19937 rng(lq::test::test_seed());
  const fs::path dir = lq::test::fresh_dir();
  const double levels[] = {0.25, 0.125, 0.0625};  // 6 dB apart: about -12, -18 and -24 LUFS
  const double seconds[] = {12.0, 8.0, 20.0};
  std::vector<std::string> args = {"measure", "--album", "--json"};
  std::vector<lq::test::DecodedFile> files;
  lq::test::DecodedFile sequence{48000, {{}, {}}};
  for (int k = 0; k < 3; ++k) {
    const fs::path f = dir / ("song" + std::to_string(k) + ".wav");
    lq::test::write_audio_file(f, steady_song(seconds[k], levels[k], rng), 48000);
    args.push_back(f.string());
    files.push_back(lq::test::read_audio_file(f));
    for (size_t c = 0; c < 2; ++c) {
      sequence.channels[c].insert(sequence.channels[c].end(), files.back().channels[c].begin(), files.back().channels[c].end());
    }
  }
  const auto r = lq::test::run_lacquer(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  const json& album = out.at("album");
  ASSERT_TRUE(album.at("integrated_lufs").is_number());
  const double lufs = album["integrated_lufs"].get<double>();
  EXPECT_NEAR(lufs, lq::test::libebur128_album_integrated(files), 0.02) << "libebur128's gating of the blocks together";
  EXPECT_NEAR(lufs, lq::test::libebur128_integrated(sequence), 0.1) << "libebur128 over the files in sequence";
  EXPECT_EQ(album.at("files"), 3);
  double loudest = -HUGE_VAL, quietest = HUGE_VAL;
  for (const json& f : out.at("files")) {
    const double own = f.at("integrated_lufs").get<double>();
    EXPECT_NEAR(f.at("relative_to_album_lu").get<double>(), own - lufs, 1e-9);
    loudest = std::max(loudest, own);
    quietest = std::min(quietest, own);
  }
  EXPECT_NEAR(loudest - quietest, 12.0, 0.5) << "the material should span the levels it was made at";
  // Every short-term value passes Tech 3342's -20 LU gate, the loudest song holds more than the top
  // 5 % and the quietest more than the bottom 10 %: the range spans them, widened by the songs'
  // +-1 dB swell at most.
  const double range = album.at("loudness_range_lu").get<double>();
  EXPECT_GE(range, loudest - quietest - 0.5);
  EXPECT_LE(range, loudest - quietest + 2.5);
  // One file alone is its own album.
  const auto one = lq::test::run_lacquer({"measure", "--album", "--json", args[3]});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const json single = json::parse(one.out);
  EXPECT_NEAR(single["album"]["integrated_lufs"].get<double>(), single["files"][0]["integrated_lufs"].get<double>(), 1e-12);
  EXPECT_NEAR(single["files"][0]["relative_to_album_lu"].get<double>(), 0.0, 1e-12);
}

TEST(MeasureAlbum, WithoutTheFlagTheOutputIsTheFilesAlone) {
  std::mt19937 rng(lq::test::test_seed());
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "a.wav", steady_song(2.0, 0.1, rng), 48000);
  const auto r = lq::test::run_lacquer({"measure", "--json", (dir / "a.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  ASSERT_TRUE(out.is_array());
  EXPECT_FALSE(out[0].contains("relative_to_album_lu"));
  const auto text = lq::test::run_lacquer({"measure", "--album", (dir / "a.wav").string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("album (1 files)"), std::string::npos) << text.out;
}
