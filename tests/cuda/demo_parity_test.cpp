// labels: gpu;slow
// The demo song (scripts/fetch-demo.sh's material, when present) rendered on the device backends
// against the CPU backend, as tests/cuda/render_parity_test.cpp compares its sessions: on `cuda`
// (a GPU; skipped without one, a failure under LQ_REQUIRE_GPU=1) and on `cuda-host` (every machine).
// Slow: a whole song of the demo catalog.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/render_parity.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using namespace lq::test::parity;

TEST_P(RenderParity, TheDemoSongAgrees) {
  const fs::path demo = lq::test::demo_dir(false);
  if (demo.empty()) GTEST_SKIP() << "no demo material in .cache/demo (scripts/fetch-demo.sh fetches it)";
  std::vector<fs::path> songs;
  for (const auto& e : fs::directory_iterator(demo / "songs")) songs.push_back(e.path());
  ASSERT_FALSE(songs.empty());
  std::sort(songs.begin(), songs.end());
  const fs::path song = songs.front();
  SCOPED_TRACE(song.string());
  // The demo session as scripts/demo.sh uses it, in the song's folder (its paths are relative).
  const std::string text = lq::test::read_text_file(lq::test::source_dir() / "scripts" / "demo_session.toml");
  std::string session;
  for (size_t from = 0; from < text.size();) {  // drop its bit_depth: expect_backends_agree sets it
    const size_t end = std::min(text.find('\n', from), text.size());
    const std::string line = text.substr(from, end - from);
    if (line.rfind("bit_depth", 0) != 0) session += line + "\n";
    from = end + 1;
  }
  // The session files sit in the song's folder (the demo session's paths are relative), removed
  // when done; the renders go to a fresh folder.
  struct Remove {
    std::vector<fs::path> files;
    ~Remove() {
      std::error_code ec;
      for (const auto& f : files) fs::remove(f, ec);
    }
  } remove_sessions{{song / kFloatSession, song / kDitheredSession}};
  expect_backends_agree(GetParam(), song, session, lq::test::fresh_dir(), /*also_24_bit=*/false);
}

INSTANTIATE_TEST_SUITE_P(Backends, RenderParity, ::testing::Values("cuda", "cuda-host"),
                         [](const auto& p) { return p.param == "cuda" ? std::string("Cuda") : std::string("CudaHost"); });
