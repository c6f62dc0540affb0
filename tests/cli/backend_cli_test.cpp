// `lacquer devices` and `--backend` as a user meets them: the machine is explained, `auto` says
// which backend it picked and why, and `cuda` without a usable GPU fails with one line and leaves
// nothing behind. On a GPU machine the same tests check the CUDA side of each promise.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "host/devices.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::test::run_lacquer;

namespace {

fs::path small_song() {
  const fs::path dir = lq::test::fresh_dir();
  std::vector<std::vector<float>> tone(2, std::vector<float>(48000 * 2));
  for (size_t i = 0; i < tone[0].size(); ++i) {
    tone[0][i] = 0.3f * static_cast<float>(std::sin(2 * std::numbers::pi * 220.0 * double(i) / 48000.0));
    tone[1][i] = 0.5f * tone[0][i];
  }
  fs::create_directories(dir / "stems");
  lq::test::write_audio_file(dir / "stems" / "keys.wav", tone, 48000);
  return dir;
}

}  // namespace

TEST(DevicesCli, ExplainsTheBackendsAndWhatAutoPicks) {
  const auto r = run_lacquer({"devices"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cpu: available"), std::string::npos) << r.out;
  std::string why;
  if (lq::cuda_usable(&why)) {
    EXPECT_NE(r.out.find("compute capability"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("auto: cuda:0"), std::string::npos) << r.out;
  } else {
    EXPECT_NE(r.out.find(why), std::string::npos) << "the reason is printed: " << r.out;
    EXPECT_NE(r.out.find("auto: cpu"), std::string::npos) << r.out;
  }
}

TEST(BackendCli, AutoRendersAndTheReportNamesTheBackendAndWhy) {
  const fs::path dir = small_song();
  const auto r = run_lacquer({"render", (dir / "stems").string(), "-o", (dir / "m.wav").string(), "--backend", "auto"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(lq::test::read_text_file(dir / "m.json"));
  std::string why;
  if (lq::cuda_usable(&why)) {
    EXPECT_EQ(report["lacquer"]["backend"], "cuda");
    EXPECT_NE(report["lacquer"]["device"].get<std::string>().find("cuda:0"), std::string::npos);
  } else {
    EXPECT_EQ(report["lacquer"]["backend"], "cpu");
    EXPECT_NE(report["lacquer"]["backend_note"].get<std::string>().find(why), std::string::npos);
  }
}

TEST(BackendCli, CudaWithoutAUsableGpuFailsWithOneLineAndLeavesNothing) {
  std::string why;
  if (lq::cuda_usable(&why)) GTEST_SKIP() << "a GPU is usable here: the refusal cannot be shown";
  const fs::path dir = small_song();
  const auto r = run_lacquer({"render", (dir / "stems").string(), "-o", (dir / "m.wav").string(), "--backend", "cuda"});
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << r.exit_code;
  EXPECT_NE(r.err.find("--backend cuda"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_EQ(lq::test::list_dir(dir), std::vector<std::string>{"stems"});
}

TEST(BackendCli, AnUnknownBackendIsAUsageError) {
  const fs::path dir = small_song();
  const auto r = run_lacquer({"render", (dir / "stems").string(), "-o", (dir / "m.wav").string(), "--backend", "tpu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tpu"), std::string::npos) << r.err;
}
