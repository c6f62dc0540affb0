#include "support/render_parity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>

#include "host/backend.hpp"
#include "host/devices.hpp"
#include "host/render.hpp"
#include "host/session.hpp"
#include "kernels/dsp/common.hpp"
#include "support/test_files.hpp"

namespace lq::test::parity {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The session text with `encode` (the output format keys) put under [master], which the text must
// contain; "" when it does not.
std::string with_encode(const std::string& session, const std::string& encode) {
  const auto at = session.find("[master]\n");
  if (at == std::string::npos) return "";
  std::string s = session;
  s.insert(at + 9, encode + "\n");
  return s;
}

}  // namespace

Channels make_stem(Kind kind, int channels, double seconds, int rate, float level, std::mt19937& rng) {
  const auto n = static_cast<size_t>(seconds * rate) + 1 + rng() % 999;
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double beat = 0.3 + 0.3 * u(rng), f_bass = 40.0 + 40.0 * u(rng);
  const double f_pad[2][2] = {{200.0 + 300.0 * u(rng), 500.0 + 400.0 * u(rng)}, {200.0 + 300.0 * u(rng), 500.0 + 400.0 * u(rng)}};
  Channels x(static_cast<size_t>(channels), std::vector<float>(n));
  double env = 1.0;
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / rate;
    if (kind == Kind::kNoise && i % static_cast<size_t>(rate / 4) == 0) env = 0.1 + 0.9 * u(rng);
    for (int c = 0; c < channels; ++c) {
      double v = 0.0;
      switch (kind) {
        case Kind::kDrums: v = 0.3 * std::exp(-std::fmod(t, beat) * 30.0) * g(rng); break;
        case Kind::kBass: v = (0.6 + 0.4 * std::sin(2.0 * std::numbers::pi * 0.5 * t)) * std::sin(2.0 * std::numbers::pi * f_bass * t); break;
        case Kind::kPad:
          v = 0.5 * (std::sin(2.0 * std::numbers::pi * f_pad[c][0] * t) + std::sin(2.0 * std::numbers::pi * f_pad[c][1] * t));
          break;
        case Kind::kNoise: v = 0.3 * env * g(rng); break;
      }
      x[size_t(c)][i] = static_cast<float>(level * v);
    }
  }
  return x;
}

Channels make_ir(double seconds, int rate, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  const auto n = static_cast<size_t>(seconds * rate);
  Channels ir(2, std::vector<float>(n));
  for (size_t i = 0; i < n; ++i) {
    for (auto& c : ir) c[i] = static_cast<float>(0.05 * std::exp(-double(i) / (0.25 * rate)) * g(rng));
  }
  return ir;
}

Rendered render_on(const fs::path& session_file, const std::string& backend, const fs::path& output) {
  const lq::Session session = lq::load_session(session_file);
  lq::RenderOptions options;
  options.output = output;
  options.backend = backend;
  const lq::RenderResult r = lq::render(session, options);
  auto decoded = lq::test::read_audio_file(output);
  return {std::move(decoded.channels), decoded.sample_rate, r.report};
}

json figure(const json& report, std::initializer_list<const char*> path) {
  const json* j = &report;
  for (const char* key : path) {
    if (!j->is_object() || !j->contains(key)) return json(json::value_t::discarded);
    j = &(*j)[key];
  }
  return *j;
}

void expect_figure_close(const json& cuda, const json& cpu, std::initializer_list<const char*> path) {
  std::string name;
  for (const char* key : path) {
    if (!name.empty()) name += '.';
    name += key;
  }
  const json a = figure(cuda, path), b = figure(cpu, path);
  ASSERT_FALSE(b.is_discarded()) << name << " is missing from the CPU report";
  if (b.is_null()) {
    EXPECT_TRUE(a.is_null()) << name << ": " << a.dump() << " on CUDA, undefined on the CPU";
    return;
  }
  ASSERT_TRUE(a.is_number() && b.is_number()) << name << ": " << a.dump() << " vs " << b.dump();
  EXPECT_NEAR(a.get<double>(), b.get<double>(), kFigureTol) << name;
}

::testing::AssertionResult same_bytes(const fs::path& a, const fs::path& b) {
  const std::string x = lq::test::read_text_file(a), y = lq::test::read_text_file(b);
  if (x == y) return ::testing::AssertionSuccess();
  const auto at = static_cast<size_t>(std::mismatch(x.begin(), x.end(), y.begin(), y.end()).first - x.begin());
  const size_t peak = x.find("PEAK");
  const bool in_peak = peak != std::string::npos && peak < 512 && at >= peak && at < peak + 16;
  return ::testing::AssertionFailure() << a.filename() << " (" << x.size() << " bytes) and " << b.filename() << " ("
                                       << y.size() << " bytes) first differ at byte " << at
                                       << (in_peak ? ", the PEAK chunk's timestamp (libsndfile's SFC_SET_ADD_PEAK_CHUNK)" : "");
}

double true_peak_of(const Channels& samples, int rate) {
  lq::cpu::ThreadPool pool(0);
  lq::CpuBackend meter(pool);
  lq::AudioBuffer b;
  b.sample_rate = rate;
  b.channels = samples;
  return meter.true_peak_scan(b);
}


json expect_backends_agree(const std::string& device_backend, const fs::path& session_dir, const std::string& session,
                           const fs::path& out_dir, bool also_24_bit) {
  const std::string float_text = with_encode(session, "bit_depth = 32");
  EXPECT_FALSE(float_text.empty()) << "the session text has no [master] table";
  if (float_text.empty()) return json();
  const fs::path float_session = session_dir / kFloatSession, dithered_session = session_dir / kDitheredSession;
  lq::test::write_text_file(float_session, float_text);
  const Rendered cpu = render_on(float_session, "cpu", out_dir / "cpu.wav");
  const Rendered cuda = render_on(float_session, device_backend, out_dir / "cuda.wav");

  EXPECT_EQ(figure(cpu.report, {"lacquer", "backend"}), "cpu");
  EXPECT_EQ(figure(cuda.report, {"lacquer", "backend"}), device_backend);
  EXPECT_EQ(figure(cuda.report, {"lacquer", "device_render"}), "whole song on the device");
  EXPECT_EQ(cuda.sample_rate, cpu.sample_rate);
  EXPECT_EQ(cuda.samples.size(), cpu.samples.size());
  for (size_t c = 0; c < std::min(cuda.samples.size(), cpu.samples.size()); ++c) {
    EXPECT_TRUE(lq::test::all_close(cuda.samples[c], cpu.samples[c], kSampleTol)) << "channel " << c;
  }
  for (const char* when : {"before", "after"}) {
    for (const char* key : {"integrated_lufs", "true_peak_dbtp", "loudness_range_lu"}) {
      expect_figure_close(cuda.report, cpu.report, {"master", when, key});
    }
  }
  expect_figure_close(cuda.report, cpu.report, {"master", "limiter", "max_gain_reduction_db"});
  expect_figure_close(cuda.report, cpu.report, {"master", "gain_applied_db"});

  const json ceiling = figure(cpu.report, {"master", "ceiling_dbtp"});
  EXPECT_TRUE(ceiling.is_number()) << "the report has no master.ceiling_dbtp";
  const double ceiling_linear = lq::dsp::db_to_linear(ceiling.is_number() ? ceiling.get<double>() : -1.0);
  EXPECT_LE(true_peak_of(cuda.samples, cuda.sample_rate), ceiling_linear) << "CUDA output over the ceiling";
  EXPECT_LE(true_peak_of(cpu.samples, cpu.sample_rate), ceiling_linear) << "CPU output over the ceiling";

  const Rendered again = render_on(float_session, device_backend, out_dir / "cuda_again.wav");
  EXPECT_EQ(again.samples.size(), cuda.samples.size());
  for (size_t c = 0; c < std::min(again.samples.size(), cuda.samples.size()); ++c) {
    EXPECT_TRUE(lq::test::bit_equal(again.samples[c], cuda.samples[c])) << "second CUDA render, channel " << c;
  }
  EXPECT_TRUE(same_bytes(out_dir / "cuda.wav", out_dir / "cuda_again.wav")) << "32-bit float";
  if (also_24_bit) {
    lq::test::write_text_file(dithered_session, with_encode(session, "bit_depth = 24\ndither = true"));
    const Rendered first = render_on(dithered_session, device_backend, out_dir / "cuda24.wav");
    render_on(dithered_session, device_backend, out_dir / "cuda24_again.wav");
    EXPECT_EQ(figure(first.report, {"master", "dither"}), "tpdf");
    EXPECT_TRUE(same_bytes(out_dir / "cuda24.wav", out_dir / "cuda24_again.wav")) << "24-bit, dithered";
    EXPECT_LE(true_peak_of(first.samples, first.sample_rate), ceiling_linear) << "24-bit CUDA output over the ceiling";
  }
  return cpu.report;
}

void RenderParity::SetUp() {
  if (GetParam() == "cuda-host") return;
  std::string why;
  if (!lq::cuda_usable(&why)) {
    // On a machine that has a GPU (LQ_REQUIRE_GPU=1) a skip would read as a pass: fail instead.
    const char* required = std::getenv("LQ_REQUIRE_GPU");
    if (required && std::string(required) == "1") FAIL() << "LQ_REQUIRE_GPU=1 but no usable GPU: " << why;
    GTEST_SKIP() << "no usable GPU: " << why;
  }
}

}  // namespace lq::test::parity
