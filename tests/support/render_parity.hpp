// Whole renders compared across backends (tests/cuda/*_parity_test.cpp): synthetic stems and IRs,
// renders through lq::render, report figures, byte comparisons, and the comparison of a session
// rendered on a device backend against the CPU backend.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/expect_close.hpp"

namespace lq::test::parity {

using Channels = std::vector<std::vector<float>>;

inline const Tolerance kSampleTol{1e-5, 0.0, "cuFFT vs FFTW rounding / device libm"};
constexpr double kFigureTol = 0.01;  // LU, dB

enum class Kind { kDrums, kBass, kPad, kNoise };

// One stem of `seconds` (plus a random 1..999 frames) at `rate`, 1 or 2 channels, peaks near
// `level`: decaying noise hits at a random tempo, a low sine with a slow swell, two mid sines per
// side, or level-varying noise.
Channels make_stem(Kind kind, int channels, double seconds, int rate, float level, std::mt19937& rng);
// A stereo decaying-noise impulse response (two different channels), 0.05 at its start.
Channels make_ir(double seconds, int rate, std::mt19937& rng);

struct Rendered {
  Channels samples;
  int sample_rate = 0;
  nlohmann::json report;
};
Rendered render_on(const std::filesystem::path& session_file, const std::string& backend,
                   const std::filesystem::path& output);

// A report figure at `path` (e.g. {"master", "after", "integrated_lufs"}): null when the report
// says undefined, discarded when the report has no such key.
nlohmann::json figure(const nlohmann::json& report, std::initializer_list<const char*> path);
void expect_figure_close(const nlohmann::json& device, const nlohmann::json& cpu, std::initializer_list<const char*> path);
// Byte comparison of two files without printing megabytes: sizes and the first differing offset,
// and whether it lies in a WAV PEAK chunk (libsndfile stamps the time of writing there).
::testing::AssertionResult same_bytes(const std::filesystem::path& a, const std::filesystem::path& b);
// The true peak of a decoded output, by the CPU backend's meter (linear).
double true_peak_of(const Channels& samples, int rate);

// The session files a comparison writes beside the stems (their paths are relative to them).
constexpr const char* kFloatSession = "render_parity_float.toml";
constexpr const char* kDitheredSession = "render_parity_dithered.toml";

// Renders `session` (written to session_dir with 32-bit float output) on both backends into
// out_dir and compares; then renders it once more on the device backend, and twice with 24-bit
// dithered output, for byte identity. Returns the CPU render's report (for session-specific checks).
nlohmann::json expect_backends_agree(const std::string& device_backend, const std::filesystem::path& session_dir,
                                     const std::string& session, const std::filesystem::path& out_dir,
                                     bool also_24_bit = true);

// The tests' fixture: the parameter is the device backend ("cuda" or "cuda-host"); "cuda" skips
// without a usable GPU, and fails instead under LQ_REQUIRE_GPU=1.
class RenderParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
};

}  // namespace lq::test::parity
