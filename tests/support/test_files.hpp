// Files and processes for tests: a fresh temporary folder per test, audio written and read with
// libsndfile directly (independent of Lacquer's own I/O), and the `lacquer` binary run as a user
// would run it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lq::test {

// Where tests write, the `lacquer` binary and the source tree: the environment's LQ_TEST_TMP,
// LQ_LACQUER_BIN and LQ_SOURCE_DIR when set (test binaries run from a bundle unpacked elsewhere:
// scripts/gpu-bundle.sh), else the paths of the build that compiled them.
std::filesystem::path tmp_root();
std::filesystem::path lacquer_bin();
std::filesystem::path source_dir();

// The seed of the randomised tests (the parity tests): LQ_TEST_SEED when set, else a fixed one, so
// every run of the suite draws the same material; printed, so a failure says how to repeat it.
unsigned test_seed();

// A new empty folder under tmp_root(), named after the running test; removed if empty at exit.
std::filesystem::path fresh_dir();

// The demo material (.cache/demo, scripts/fetch-demo.sh): fetched first when `fetch` and it is
// missing; empty when it is not there (or could not be fetched).
std::filesystem::path demo_dir(bool fetch);

// Writes planar float data (channels[c][frame]) with libsndfile. `format` is a libsndfile
// SF_FORMAT_* combination; default 32-bit float WAV.
void write_audio_file(const std::filesystem::path& path, const std::vector<std::vector<float>>& channels,
                      int sample_rate, int format = 0);

struct DecodedFile {
  int sample_rate = 0;
  std::vector<std::vector<float>> channels;
};
DecodedFile read_audio_file(const std::filesystem::path& path);

void write_text_file(const std::filesystem::path& path, const std::string& text);
std::string read_text_file(const std::filesystem::path& path);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `lacquer ARGS...` (no shell), capturing stdout and stderr; in folder `cwd` when given.
RunResult run_lacquer(const std::vector<std::string>& args, const std::filesystem::path& cwd = {});

// Starts `lacquer ARGS...` with stdout and stderr into the given files; wait_lacquer returns its
// exit code (128 + signal when a signal ended it).
int start_lacquer(const std::vector<std::string>& args, const std::filesystem::path& out_path,
                  const std::filesystem::path& err_path, const std::filesystem::path& cwd = {});
int wait_lacquer(int pid);

// Sorted file names in a folder (to check that nothing was left behind).
std::vector<std::string> list_dir(const std::filesystem::path& dir);

}  // namespace lq::test
