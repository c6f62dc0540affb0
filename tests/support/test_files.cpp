#include "support/test_files.hpp"

#include <fcntl.h>
#include <sndfile.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

namespace lq::test {

namespace fs = std::filesystem;

namespace {

fs::path from_env(const char* name, const char* built) {
  const char* v = std::getenv(name);
  return fs::path(v && *v ? v : built);
}

}  // namespace

fs::path tmp_root() { return from_env("LQ_TEST_TMP", LQ_TEST_TMP); }
fs::path lacquer_bin() { return from_env("LQ_LACQUER_BIN", LQ_LACQUER_BIN); }
fs::path source_dir() { return from_env("LQ_SOURCE_DIR", LQ_SOURCE_DIR); }

unsigned test_seed() {
  const char* env = std::getenv("LQ_TEST_SEED");
  const unsigned seed = env && *env ? static_cast<unsigned>(std::strtoul(env, nullptr, 10)) : 20261207u;
  std::printf("seed %u (LQ_TEST_SEED=%u repeats this run)\n", seed, seed);
  return seed;
}

fs::path demo_dir(bool fetch) {
  const fs::path dir = source_dir() / ".cache" / "demo";
  if (!fs::exists(dir / ".done") && fetch) {
    const std::string cmd = "bash '" + (source_dir() / "scripts" / "fetch-demo.sh").string() + "' >/dev/null";
    if (std::system(cmd.c_str()) != 0) return {};
  }
  return fs::exists(dir / ".done") ? dir : fs::path();
}

fs::path fresh_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  std::replace(name.begin(), name.end(), '/', '_');
  const fs::path dir = tmp_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_audio_file(const fs::path& path, const std::vector<std::vector<float>>& channels, int sample_rate,
                      int format) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = static_cast<int>(channels.size());
  info.format = format ? format : (SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error("write_audio_file: " + path.string() + ": " + sf_strerror(nullptr));
  const size_t frames = channels.empty() ? 0 : channels[0].size();
  std::vector<float> inter(frames * channels.size());
  for (size_t i = 0; i < frames; ++i) {
    for (size_t c = 0; c < channels.size(); ++c) inter[i * channels.size() + c] = channels[c][i];
  }
  sf_writef_float(f, inter.data(), static_cast<sf_count_t>(frames));
  sf_close(f);
}

DecodedFile read_audio_file(const fs::path& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) throw std::runtime_error("read_audio_file: " + path.string() + ": " + sf_strerror(nullptr));
  std::vector<float> inter(static_cast<size_t>(info.frames * info.channels));
  const sf_count_t got = sf_readf_float(f, inter.data(), info.frames);
  sf_close(f);
  DecodedFile d;
  d.sample_rate = info.samplerate;
  d.channels.assign(static_cast<size_t>(info.channels), std::vector<float>(static_cast<size_t>(got)));
  for (sf_count_t i = 0; i < got; ++i) {
    for (int c = 0; c < info.channels; ++c) {
      d.channels[static_cast<size_t>(c)][static_cast<size_t>(i)] = inter[static_cast<size_t>(i * info.channels + c)];
    }
  }
  return d;
}

void write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

pid_t start_lacquer(const std::vector<std::string>& args, const fs::path& out_path, const fs::path& err_path,
                    const fs::path& cwd) {
  std::string bin = lacquer_bin().string();  // before the fork: the child only execs
  std::vector<std::string> copy = args;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    const int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv;
    argv.push_back(bin.data());
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_lacquer(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

RunResult run_lacquer(const std::vector<std::string>& args, const fs::path& cwd) {
  const fs::path dir = tmp_root();
  fs::create_directories(dir);
  const fs::path out_path = dir / ("run-" + std::to_string(::getpid()) + ".out");
  const fs::path err_path = dir / ("run-" + std::to_string(::getpid()) + ".err");
  RunResult r;
  r.exit_code = wait_lacquer(start_lacquer(args, out_path, err_path, cwd));
  r.out = read_text_file(out_path);
  r.err = read_text_file(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace lq::test
