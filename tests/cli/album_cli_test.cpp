// Albums (host/album.hpp): songs that share one loudness gain, chosen so that the album's
// integrated loudness meets the target. Three songs made about 14 dB apart (about -8, -14 and -22
// LUFS) are rendered as an album at -14 LUFS; the checks are made by libebur128 on what was
// delivered: each song's loudness relative to the others is what it was in its stems, the masters
// played in sequence measure -14 LUFS, each master keeps its true-peak ceiling; the same songs
// rendered on their own each land at -14. In a batch: the same bytes as `render --album`, a resume
// after the first phase renders the same bytes without measuring again, a changed song renders its
// whole album again (and only it), and sharding keeps an album in one shard.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/libebur128_meter.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kRate = 48000;
constexpr double kCeilingDbtp = -1.0;

// `seconds` of stereo material with a low crest factor (two tones, a slow swell, a little noise),
// so that none of the album's gains makes the limiter work: a song's loudness then moves by the
// gain alone. `level` scales it (0.5: about -8 LUFS).
std::vector<std::vector<float>> song_material(double seconds, double level, double f0, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 0.01);
  const auto n = static_cast<size_t>(seconds * kRate);
  std::vector<std::vector<float>> x(2, std::vector<float>(n));
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / kRate;
    const double swell = 1.0 + 0.1 * std::sin(2.0 * M_PI * 0.3 * t);
    const double v = 0.6 * std::sin(2.0 * M_PI * f0 * t) + 0.3 * std::sin(2.0 * M_PI * 3.3 * f0 * t + 1.0);
    x[0][i] = static_cast<float>(level * swell * (v + g(rng)));
    x[1][i] = static_cast<float>(level * swell * (0.9 * v + g(rng)));
  }
  return x;
}

struct Album {
  fs::path dir;
  std::vector<fs::path> sessions;  // one per song, in order
  std::vector<lq::test::DecodedFile> stems;
};

// Three songs, each a session with one stereo stem and a -14 LUFS target, in `dir`/songN/.
Album make_album(const fs::path& dir, const std::string& master_extra = "") {
  std::mt19937 rng(lq::test::test_seed());
  Album a;
  a.dir = dir;
  const double levels[] = {0.5, 0.25, 0.1};  // about -8, -14 and -22 LUFS
  const double seconds[] = {12.0, 8.0, 10.0};
  const double tones[] = {220.0, 330.0, 180.0};
  for (int k = 0; k < 3; ++k) {
    const fs::path song = dir / ("song" + std::to_string(k + 1));
    fs::create_directories(song);
    lq::test::write_audio_file(song / "mix.wav", song_material(seconds[k], levels[k], tones[k], rng), kRate);
    a.stems.push_back(lq::test::read_audio_file(song / "mix.wav"));
    lq::test::write_text_file(song / "session.toml",
                              "[stems.mix]\nfile = \"mix.wav\"\ngroup = \"music\"\n\n[master]\ntarget_lufs = -14.0\n"
                              "ceiling_dbtp = -1.0\n" + master_extra);
    a.sessions.push_back(song / "session.toml");
  }
  return a;
}

lq::test::DecodedFile in_sequence(const std::vector<lq::test::DecodedFile>& files) {
  lq::test::DecodedFile all{files.front().sample_rate, {{}, {}}};
  for (const auto& f : files) {
    for (size_t c = 0; c < 2; ++c) all.channels[c].insert(all.channels[c].end(), f.channels[c].begin(), f.channels[c].end());
  }
  return all;
}

double dbtp(const lq::test::DecodedFile& f) { return 20.0 * std::log10(lq::test::libebur128_true_peak(f)); }

}  // namespace

TEST(Album, OneGainKeepsTheSongsBalanceAndTheAlbumMeetsTheTarget) {
  const fs::path dir = lq::test::fresh_dir();
  const Album album = make_album(dir);
  std::vector<double> before;
  for (const auto& s : album.stems) before.push_back(lq::test::libebur128_integrated(s));
  ASSERT_NEAR(before[0] - before[2], 14.0, 1.5) << "the material should be about 14 dB apart";

  fs::create_directories(dir / "album");
  const auto r = lq::test::run_lacquer({"render", album.sessions[0].string(), album.sessions[1].string(),
                                        album.sessions[2].string(), "-o", (dir / "album").string(), "--album"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<lq::test::DecodedFile> masters;
  double gain = NAN;
  for (int k = 0; k < 3; ++k) {
    const std::string name = "song" + std::to_string(k + 1);
    masters.push_back(lq::test::read_audio_file(dir / "album" / (name + ".wav")));
    const double after = lq::test::libebur128_integrated(masters.back());
    // Every song moved by the same gain: their balance is what the stems had.
    if (k == 0) gain = after - before[0];
    EXPECT_NEAR(after - before[k], gain, 0.05) << name << ": the album's gain is one gain";
    EXPECT_LE(dbtp(masters.back()), kCeilingDbtp) << name << ": each song keeps its ceiling (libebur128)";
    const json report = json::parse(lq::test::read_text_file(dir / "album" / (name + ".json")));
    EXPECT_EQ(report.at("master").at("normalisation").at("mode"), "album");
    EXPECT_EQ(report.at("album").at("songs"), 3);
    EXPECT_NEAR(report.at("master").at("gain_applied_db").get<double>(), report.at("album").at("gain_db").get<double>(), 1e-12);
    EXPECT_EQ(report.at("album").at("loudest").at("id"), "song1");
    EXPECT_EQ(report.at("album").at("quietest").at("id"), "song3");
  }
  // The album played in sequence meets the target (libebur128 over the concatenation).
  EXPECT_NEAR(lq::test::libebur128_integrated(in_sequence(masters)), -14.0, 0.1);
  // The same songs on their own each land at the target.
  for (int k = 0; k < 3; ++k) {
    const fs::path out = dir / ("alone" + std::to_string(k + 1) + ".wav");
    const auto one = lq::test::run_lacquer({"render", album.sessions[k].string(), "-o", out.string(), "--no-report"});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const auto f = lq::test::read_audio_file(out);
    EXPECT_NEAR(lq::test::libebur128_integrated(f), -14.0, 0.1) << "song " << k + 1 << " alone";
    EXPECT_LE(dbtp(f), kCeilingDbtp);
  }
}

TEST(Album, ASessionInAlbumModeAloneIsAnAlbumOfOne) {
  const fs::path dir = lq::test::fresh_dir();
  const Album album = make_album(dir, "loudness = \"album\"\n");
  const fs::path out = dir / "one.wav";
  const auto r = lq::test::run_lacquer({"render", album.sessions[1].string(), "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(lq::test::libebur128_integrated(lq::test::read_audio_file(out)), -14.0, 0.1);
  const json report = json::parse(lq::test::read_text_file(dir / "one.json"));
  EXPECT_EQ(report.at("master").at("normalisation").at("mode"), "album");
  EXPECT_EQ(report.at("album").at("songs"), 1);
}

TEST(Album, BadAlbumSettingsAreRefusedWithTheirLine) {
  const fs::path dir = lq::test::fresh_dir();
  const Album album = make_album(dir, "loudness = \"loud\"\n");
  const auto r = lq::test::run_lacquer({"render", album.sessions[0].string(), "-o", (dir / "x.wav").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("master.loudness: 'loud': use \"song\" or \"album\""), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.wav"));
  // Several inputs write into a folder, which must exist; two inputs of one name would be one file.
  const Album good = make_album(dir / "good");
  const auto no_dir = lq::test::run_lacquer({"render", good.sessions[0].string(), good.sessions[1].string(), "-o",
                                             (dir / "missing").string()});
  EXPECT_EQ(no_dir.exit_code, 2) << no_dir.err;
  const auto twice = lq::test::run_lacquer({"render", good.sessions[0].string(), good.sessions[0].string(), "-o",
                                            dir.string()});
  EXPECT_EQ(twice.exit_code, 2) << twice.err;
  EXPECT_NE(twice.err.find("same name"), std::string::npos) << twice.err;
  // A preset names no album: it applies to many songs.
  lq::test::write_text_file(dir / "preset.toml", "album = \"x\"\n");
  fs::create_directories(dir / "catalog" / "s");
  fs::copy_file(dir / "song1" / "mix.wav", dir / "catalog" / "s" / "mix.wav");
  const auto preset = lq::test::run_lacquer({"batch", (dir / "catalog").string(), "-o", (dir / "out").string(), "--preset",
                                             (dir / "preset.toml").string(), "-q"});
  EXPECT_EQ(preset.exit_code, 1);
  EXPECT_NE(preset.err.find("a preset applies to many songs"), std::string::npos) << preset.err;
}

namespace {

std::map<std::string, std::string> song_status(const fs::path& summary) {
  std::map<std::string, std::string> m;
  const json all = json::parse(lq::test::read_text_file(summary));
  for (const auto& s : all.at("songs")) {
    m[s.at("id").get<std::string>()] = s.at("status").get<std::string>();
  }
  return m;
}

}  // namespace

TEST(AlbumBatch, TwoPhasesResumeAndRenderAChangedAlbumAgain) {
  const fs::path dir = lq::test::fresh_dir();
  // The catalog: an album folder (album.toml) of the three songs, and a song of its own.
  const fs::path catalog = dir / "catalog";
  const Album album = make_album(catalog / "record");
  lq::test::write_text_file(catalog / "record" / "album.toml", "name = \"The Record\"\n");
  fs::create_directories(catalog / "solo");
  fs::copy_file(catalog / "record" / "song2" / "mix.wav", catalog / "solo" / "mix.wav");
  const fs::path out = dir / "out";
  const auto first = lq::test::run_lacquer({"batch", catalog.string(), "-o", out.string(), "--album-loudness", "-q"});
  ASSERT_EQ(first.exit_code, 0) << first.err;

  // The same bytes as `render --album` of the same sessions.
  fs::create_directories(dir / "cli");
  const auto cli = lq::test::run_lacquer({"render", album.sessions[0].string(), album.sessions[1].string(),
                                          album.sessions[2].string(), "-o", (dir / "cli").string(), "--album", "-q"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  std::vector<std::string> masters;
  for (int k = 1; k <= 3; ++k) {
    const std::string song = "song" + std::to_string(k);
    masters.push_back(lq::test::read_text_file(out / "record" / song / "master.wav"));
    EXPECT_EQ(masters.back(), lq::test::read_text_file(dir / "cli" / (song + ".wav"))) << song;
  }
  // The summary's album row, measured on the delivered masters.
  const json summary = json::parse(lq::test::read_text_file(out / "summary.json"));
  ASSERT_EQ(summary.at("albums").size(), 1u);
  const json& row = summary["albums"][0];
  EXPECT_EQ(row.at("album"), "The Record");
  EXPECT_EQ(row.at("status"), "complete");
  EXPECT_NEAR(row.at("integrated_lufs_after").get<double>(), -14.0, 0.05);
  EXPECT_TRUE(fs::exists(out / "summary-albums.csv"));
  EXPECT_NE(lq::test::read_text_file(out / "summary-albums.csv").find("The Record,complete,3,"), std::string::npos);

  // Killed between the phases: the measurements are there, the masters are not. The resumed batch
  // reads the measurements (album-measure.json is not written again) and renders the same bytes.
  std::vector<fs::file_time_type> measured;
  for (int k = 1; k <= 3; ++k) {
    const fs::path song = out / "record" / ("song" + std::to_string(k));
    measured.push_back(fs::last_write_time(song / "album-measure.json"));
    fs::remove(song / "master.wav");
    fs::remove(song / "report.json");
  }
  const auto resumed = lq::test::run_lacquer({"batch", catalog.string(), "-o", out.string(), "--album-loudness", "-q"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  for (int k = 1; k <= 3; ++k) {
    const fs::path song = out / "record" / ("song" + std::to_string(k));
    EXPECT_EQ(lq::test::read_text_file(song / "master.wav"), masters[k - 1]) << song;
    EXPECT_EQ(fs::last_write_time(song / "album-measure.json"), measured[k - 1]) << "measured again: " << song;
  }
  auto status = song_status(out / "summary.json");
  EXPECT_EQ(status["record/song1"], "rendered");
  EXPECT_EQ(status["solo"], "skipped");

  // One song's session changes (its stem 3 dB up): the album's gain changes, so the whole album
  // renders again; the song outside it does not.
  lq::test::write_text_file(album.sessions[1], "[stems.mix]\nfile = \"mix.wav\"\ngroup = \"music\"\ngain_db = 3.0\n\n"
                                               "[master]\ntarget_lufs = -14.0\nceiling_dbtp = -1.0\n");
  const auto changed = lq::test::run_lacquer({"batch", catalog.string(), "-o", out.string(), "--album-loudness", "-q"});
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  status = song_status(out / "summary.json");
  for (int k = 1; k <= 3; ++k) EXPECT_EQ(status["record/song" + std::to_string(k)], "rendered") << k;
  EXPECT_EQ(status["solo"], "skipped");
  EXPECT_NE(lq::test::read_text_file(out / "record" / "song1" / "master.wav"), masters[0]) << "song 1's gain moved";
  EXPECT_EQ(fs::last_write_time(out / "record" / "song1" / "album-measure.json"), measured[0]) << "song 1 itself is unchanged";
}

TEST(AlbumBatch, ShardsKeepAnAlbumWhole) {
  const fs::path dir = lq::test::fresh_dir();
  // A manifest of four albums of three songs each (the songs' sources shared): every shard of three
  // holds whole albums, and every song is in one shard.
  const Album album = make_album(dir / "songs");
  std::string csv = "id,source,album\n";
  for (int a = 0; a < 4; ++a) {
    for (int k = 1; k <= 3; ++k) {
      const std::string n = std::to_string(a), song = std::to_string(k);
      csv.append("a").append(n).append("s").append(song).append(",").append(album.sessions[k - 1].string());
      csv.append(",album ").append(n).append("\n");
    }
  }
  lq::test::write_text_file(dir / "catalog.csv", csv);
  std::map<std::string, std::set<int>> shards_of_album;
  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    const auto r = lq::test::run_lacquer({"batch", (dir / "catalog.csv").string(), "-o", (dir / "out").string(), "--shard",
                                          std::to_string(i) + "/3", "--album-loudness", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json s = json::parse(lq::test::read_text_file(dir / "out" / ("summary-shard-" + std::to_string(i) + "-of-3.json")));
    for (const auto& song : s.at("songs")) {
      EXPECT_TRUE(seen.insert(song.at("id")).second) << song.at("id") << " in two shards";
      shards_of_album[song.at("album")].insert(i);
    }
  }
  EXPECT_EQ(seen.size(), 12u);
  ASSERT_EQ(shards_of_album.size(), 4u);
  for (const auto& [name, shards] : shards_of_album) EXPECT_EQ(shards.size(), 1u) << name;
  const auto merged = lq::test::run_lacquer({"summary", (dir / "out").string(), "-q"});
  EXPECT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(json::parse(lq::test::read_text_file(dir / "out" / "summary.json")).at("albums").size(), 4u);
}
