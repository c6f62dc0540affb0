// Several deliverables from one mix ([deliverables.NAME]): each is its own master (rate, bit depth,
// loudness target, ceiling, format), measured by an independent meter, listed in the report, and
// checked when a batch decides whether a song is complete.
#include <gtest/gtest.h>

#include <sndfile.h>

#include <cmath>
#include <numbers>
#include <random>

#include <nlohmann/json.hpp>

#include "host/loudness.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "support/libebur128_meter.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::test::run_lacquer;
using nlohmann::json;

namespace {

fs::path song_with_deliverables(fs::path dir = lq::test::fresh_dir()) {
  fs::create_directories(dir);
  const size_t n = 48000 * 5;
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<float>> a(2, std::vector<float>(n));
  for (size_t i = 0; i < n; ++i) {
    const float env = static_cast<float>(std::exp(-std::fmod(double(i) / 48000.0, 0.25) * 20.0));
    a[0][i] = 0.4f * env * g(rng) + 0.2f * static_cast<float>(std::sin(2 * std::numbers::pi * 80.0 * double(i) / 48000.0));
    a[1][i] = 0.4f * env * g(rng) + a[0][i] * 0.3f;
  }
  lq::test::write_audio_file(dir / "mix.wav", a, 48000);
  lq::test::write_text_file(dir / "session.toml", R"(
[master]
target_lufs = -14.0
ceiling_dbtp = -1.0
bit_depth = 24

[deliverables.cd]
sample_rate = 44100
bit_depth = 16

[deliverables.loud]
target_lufs = -11.0
ceiling_dbtp = -0.5
format = "flac"

[stems.mix]
file = "mix.wav"
group = "music"
)");
  return dir;
}

int bits_of(const fs::path& p) {
  SF_INFO info{};
  SNDFILE* f = sf_open(p.c_str(), SFM_READ, &info);
  if (!f) return 0;
  sf_close(f);
  const int sub = info.format & SF_FORMAT_SUBMASK;
  return sub == SF_FORMAT_PCM_16 ? 16 : sub == SF_FORMAT_PCM_24 ? 24 : sub == SF_FORMAT_FLOAT ? 32 : -1;
}

double true_peak_dbtp(const lq::test::DecodedFile& f) {
  lq::AudioBuffer b;
  b.sample_rate = f.sample_rate;
  b.channels = f.channels;
  lq::cpu::ThreadPool pool(1);
  return 20.0 * std::log10(lq::true_peak_linear(b, pool));
}

}  // namespace

TEST(Deliverables, EachIsItsOwnMasterFromTheSameMix) {
  const fs::path dir = song_with_deliverables();
  const auto r = run_lacquer({"render", (dir / "session.toml").string(), "-o", (dir / "master.wav").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto main = lq::test::read_audio_file(dir / "master.wav");
  const auto cd = lq::test::read_audio_file(dir / "master-cd.wav");
  const auto loud = lq::test::read_audio_file(dir / "master-loud.flac");
  EXPECT_EQ(main.sample_rate, 48000);
  EXPECT_EQ(cd.sample_rate, 44100);
  EXPECT_EQ(loud.sample_rate, 48000);
  EXPECT_EQ(bits_of(dir / "master.wav"), 24);
  EXPECT_EQ(bits_of(dir / "master-cd.wav"), 16);
  EXPECT_EQ(bits_of(dir / "master-loud.flac"), 24);
  EXPECT_NEAR(lq::test::libebur128_integrated(main), -14.0, 0.1);
  EXPECT_NEAR(lq::test::libebur128_integrated(cd), -14.0, 0.1);
  EXPECT_NEAR(lq::test::libebur128_integrated(loud), -11.0, 0.1);
  EXPECT_LE(true_peak_dbtp(main), -1.0);
  EXPECT_LE(true_peak_dbtp(cd), -1.0);
  EXPECT_LE(true_peak_dbtp(loud), -0.5);
  // The same programme: the 44.1 kHz deliverable lasts as long as the master.
  EXPECT_NEAR(double(cd.channels[0].size()) / 44100.0, double(main.channels[0].size()) / 48000.0, 1e-3);
  const json report = json::parse(lq::test::read_text_file(dir / "master.json"));
  ASSERT_EQ(report["deliverables"].size(), 2u);
  EXPECT_EQ(report["deliverables"][0]["name"], "cd");
  EXPECT_EQ(report["deliverables"][0]["bit_depth"], 16);
  EXPECT_NEAR(report["deliverables"][1]["after"]["integrated_lufs"].get<double>(), -11.0, 0.1);
  EXPECT_FALSE(report["deliverables"][1]["xxh3_128"].get<std::string>().empty());
}

TEST(Deliverables, ABatchRendersThemAndRerendersASongWhoseDeliverableIsDamaged) {
  const fs::path cat = lq::test::fresh_dir() / "cat";
  song_with_deliverables(cat / "one");
  const fs::path out = cat.parent_path() / "out";
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(out / "one" / "master-cd.wav"));
  EXPECT_TRUE(fs::exists(out / "one" / "master-loud.flac"));
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"}).exit_code, 0);
  EXPECT_EQ(json::parse(lq::test::read_text_file(out / "summary.json"))["songs"][0]["status"], "skipped");
  lq::test::write_text_file(out / "one" / "master-cd.wav", "truncated");
  ASSERT_EQ(run_lacquer({"batch", cat.string(), "-o", out.string(), "--quiet"}).exit_code, 0);
  EXPECT_EQ(json::parse(lq::test::read_text_file(out / "summary.json"))["songs"][0]["status"], "rendered");
  EXPECT_EQ(lq::test::read_audio_file(out / "one" / "master-cd.wav").sample_rate, 44100);
}

TEST(Deliverables, BadDeliverablesAreRefusedWithTheKey) {
  const fs::path dir = song_with_deliverables();
  lq::test::write_text_file(dir / "bad.toml", "[deliverables.\"a b\"]\n[stems.mix]\nfile = \"mix.wav\"\ngroup = \"m\"\n");
  const auto r = run_lacquer({"render", (dir / "bad.toml").string(), "-o", (dir / "x.wav").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("deliverables"), std::string::npos) << r.err;
  lq::test::write_text_file(dir / "bad2.toml", "[deliverables.x]\nformat = \"mp3\"\n[stems.mix]\nfile = \"mix.wav\"\ngroup = \"m\"\n");
  const auto r2 = run_lacquer({"render", (dir / "bad2.toml").string(), "-o", (dir / "x.wav").string()});
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.err.find("deliverables.x.format"), std::string::npos) << r2.err;
  EXPECT_FALSE(fs::exists(dir / "x.wav"));
}
