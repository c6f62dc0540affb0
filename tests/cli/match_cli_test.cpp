// Reference matching (`[master.match]`, host/match.hpp). A noise mix with the original's balance
// tilted by -3 dB per octave above 1 kHz, matched to the untilted original, comes back to the
// original's long-term spectrum within 0.5 dB in every 1/3-octave band from 50 Hz to 16 kHz: the
// spectra are read here with FFTW over the whole files, independently of the match's own frames
// and smoothing. amount = 0 is the same bytes as no match; max_db limits the curve and what the
// master shows of it; a reference's loudness can be the target; a silent or short reference is a
// clear error that writes nothing.
#include <gtest/gtest.h>

#include <fftw3.h>

#include <cmath>
#include <cstdio>
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

constexpr int kRate = 48000;

// Applies the zero-phase gain gain_db(f) to each channel over the whole buffer (FFTW, circular).
std::vector<std::vector<float>> filtered(const std::vector<std::vector<double>>& x, double (*gain_db)(double)) {
  const int n = static_cast<int>(x[0].size());
  std::vector<double> buf(static_cast<size_t>(n));
  std::vector<fftw_complex> bins(static_cast<size_t>(n / 2 + 1));
  fftw_plan fwd = fftw_plan_dft_r2c_1d(n, buf.data(), bins.data(), FFTW_ESTIMATE);
  fftw_plan inv = fftw_plan_dft_c2r_1d(n, bins.data(), buf.data(), FFTW_ESTIMATE);
  std::vector<std::vector<float>> out;
  for (const auto& c : x) {
    buf = c;
    fftw_execute(fwd);
    for (int k = 0; k <= n / 2; ++k) {
      const double g = std::pow(10.0, gain_db(double(k) * kRate / n) / 20.0) / n;
      bins[size_t(k)][0] *= g;
      bins[size_t(k)][1] *= g;
    }
    fftw_execute(inv);
    out.emplace_back(buf.begin(), buf.end());
  }
  fftw_destroy_plan(fwd);
  fftw_destroy_plan(inv);
  return out;
}

double pink(double f) { return -10.0 * std::log10(std::max(f, 20.0) / 1000.0); }  // -3 dB per octave
double tilt(double f) { return f > 1000.0 ? -3.0 * std::log2(f / 1000.0) : 0.0; }

// `seconds` of stereo pink noise at about -20 dBFS RMS.
std::vector<std::vector<float>> pink_noise(double seconds, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  const auto n = static_cast<size_t>(seconds * kRate);
  std::vector<std::vector<double>> white(2, std::vector<double>(n));
  for (auto& c : white) {
    for (auto& v : c) v = g(rng);
  }
  auto p = filtered(white, pink);
  double ms = 0.0;
  for (float v : p[0]) ms += double(v) * v;
  const double scale = 0.1 / std::sqrt(ms / double(n));
  for (auto& c : p) {
    for (auto& v : c) v = static_cast<float>(v * scale);
  }
  return p;
}

std::vector<std::vector<double>> widened(const std::vector<std::vector<float>>& x) {
  std::vector<std::vector<double>> d;
  for (const auto& c : x) d.emplace_back(c.begin(), c.end());
  return d;
}

// Power in the 1/3-octave bands (edges f 2^(+-1/6)) at `centres`, channels summed, in dB.
std::vector<double> third_octave_db(const lq::test::DecodedFile& f, const std::vector<double>& centres) {
  const int n = static_cast<int>(f.channels[0].size());
  std::vector<double> buf(static_cast<size_t>(n)), power(static_cast<size_t>(n / 2 + 1), 0.0);
  std::vector<fftw_complex> bins(static_cast<size_t>(n / 2 + 1));
  fftw_plan fwd = fftw_plan_dft_r2c_1d(n, buf.data(), bins.data(), FFTW_ESTIMATE);
  for (const auto& c : f.channels) {
    buf.assign(c.begin(), c.end());
    fftw_execute(fwd);
    for (size_t k = 0; k < power.size(); ++k) power[k] += bins[k][0] * bins[k][0] + bins[k][1] * bins[k][1];
  }
  fftw_destroy_plan(fwd);
  std::vector<double> out;
  for (double fc : centres) {
    const double lo = fc * std::exp2(-1.0 / 6.0), hi = fc * std::exp2(1.0 / 6.0);
    double p = 0.0;
    for (auto k = static_cast<size_t>(std::ceil(lo * n / f.sample_rate)); double(k) * f.sample_rate / n <= hi; ++k) p += power[k];
    out.push_back(10.0 * std::log10(p));
  }
  return out;
}

const std::vector<double> kCentres = {50,   63,   80,   100,  125,  160,  200,  250,  315,  400,   500,   630,  800,
                                      1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000};

// The spread of a - b over the bands after their mean difference is taken out: the largest
// deviation of the balance, level aside.
double balance_error(const std::vector<double>& a, const std::vector<double>& b) {
  double mean = 0.0;
  for (size_t i = 0; i < a.size(); ++i) mean += a[i] - b[i];
  mean /= double(a.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i] - mean));
  return worst;
}

struct Material {
  fs::path dir;
  lq::test::DecodedFile original;
};

// The original (reference.wav) and the tilted mix (mix.wav) in `dir`, 12 s of pink noise.
Material make_material(const fs::path& dir) {
  std::mt19937 rng(lq::test::test_seed());
  const auto original = pink_noise(12.0, rng);
  lq::test::write_audio_file(dir / "reference.wav", original, kRate);
  lq::test::write_audio_file(dir / "mix.wav", filtered(widened(original), tilt), kRate);
  return {dir, lq::test::read_audio_file(dir / "reference.wav")};
}

fs::path session(const fs::path& dir, const std::string& name, const std::string& master, const std::string& match) {
  const fs::path p = dir / (name + ".toml");
  lq::test::write_text_file(p, "[stems.mix]\nfile = \"mix.wav\"\ngroup = \"music\"\n\n[master]\n" + master +
                                   (match.empty() ? std::string() : "\n[master.match]\n" + match));
  return p;
}

lq::test::RunResult render(const fs::path& session_file, const fs::path& out) {
  return lq::test::run_lacquer({"render", session_file.string(), "-o", out.string(), "-q"});
}

}  // namespace

TEST(Match, ATiltedMixComesBackToTheReferencesBalance) {
  const Material m = make_material(lq::test::fresh_dir());
  const std::vector<double> want = third_octave_db(m.original, kCentres);
  const std::vector<double> tilted = third_octave_db(lq::test::read_audio_file(m.dir / "mix.wav"), kCentres);
  ASSERT_GT(balance_error(tilted, want), 5.0) << "the mix should start far from the reference";
  const fs::path s = session(m.dir, "matched", "target_lufs = -23.0\n", "reference = \"reference.wav\"\nmax_db = 12.0\n");
  const auto r = render(s, m.dir / "matched.wav");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> got = third_octave_db(lq::test::read_audio_file(m.dir / "matched.wav"), kCentres);
  std::string bands;
  for (size_t i = 0; i < kCentres.size(); ++i) {
    bands.append(" ").append(std::to_string(int(kCentres[i]))).append(":").append(std::to_string(got[i] - want[i]));
  }
  std::printf("balance error after the match: %.3f dB (before %.3f dB)\n", balance_error(got, want), balance_error(tilted, want));
  EXPECT_LE(balance_error(got, want), 0.5) << "every 1/3-octave band from 50 Hz to 16 kHz within 0.5 dB:" << bands;
  const json report = json::parse(lq::test::read_text_file(m.dir / "matched.json"));
  const json& match = report.at("master").at("match");
  EXPECT_TRUE(match.at("applied").get<bool>());
  EXPECT_NEAR(match.at("reference_integrated_lufs").get<double>(), lq::test::libebur128_integrated(m.original), 0.05);
  EXPECT_NEAR(match.at("result_integrated_lufs").get<double>(), -23.0, 0.1);
  // The report's curve at the 1/3-octave centres: the tilt undone, level aside (+9 dB from 1 to 8 kHz).
  double at1k = NAN, at8k = NAN;
  for (const auto& p : match.at("curve_db")) {
    if (p.at("hz") == 1000.0) at1k = p.at("db").get<double>();
    if (p.at("hz") == 8000.0) at8k = p.at("db").get<double>();
  }
  EXPECT_NEAR(at8k - at1k, 9.0, 0.5);
}

TEST(Match, AmountZeroIsTheSameBytesAsNoMatch) {
  const Material m = make_material(lq::test::fresh_dir());
  const auto plain = render(session(m.dir, "plain", "target_lufs = -23.0\n", ""), m.dir / "plain.wav");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto zero = render(session(m.dir, "zero", "target_lufs = -23.0\n", "reference = \"reference.wav\"\namount = 0.0\n"),
                           m.dir / "zero.wav");
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  EXPECT_EQ(lq::test::read_text_file(m.dir / "plain.wav"), lq::test::read_text_file(m.dir / "zero.wav"));
  const json report = json::parse(lq::test::read_text_file(m.dir / "zero.json"));
  EXPECT_FALSE(report.at("master").at("match").at("applied").get<bool>());
}

TEST(Match, MaxDbLimitsTheCurveAndWhatTheMasterShowsOfIt) {
  const Material m = make_material(lq::test::fresh_dir());
  const auto r = render(session(m.dir, "limited", "target_lufs = -23.0\n", "reference = \"reference.wav\"\nmax_db = 4.0\n"),
                        m.dir / "limited.wav");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(lq::test::read_text_file(m.dir / "limited.json"));
  double most = 0.0;
  for (const auto& p : report.at("master").at("match").at("curve_db")) most = std::max(most, std::fabs(p.at("db").get<double>()));
  EXPECT_LE(most, 4.0 + 1e-9);
  EXPECT_GE(most, 4.0 - 1e-6) << "the tilt needs more than 4 dB: the limit should be reached";
  // What the master shows: its spectrum against the mix's, less the loudness gain, within the
  // limit (and the EQ's 0.1 dB design tolerance) in every band.
  const std::vector<double> in = third_octave_db(lq::test::read_audio_file(m.dir / "mix.wav"), kCentres);
  const std::vector<double> out = third_octave_db(lq::test::read_audio_file(m.dir / "limited.wav"), kCentres);
  const double gain = report.at("master").at("gain_applied_db").get<double>();
  for (size_t i = 0; i < kCentres.size(); ++i) {
    EXPECT_LE(std::fabs(out[i] - in[i] - gain), 4.0 + 0.2) << kCentres[i] << " Hz";
  }
}

TEST(Match, TheReferencesLoudnessCanBeTheTarget) {
  const Material m = make_material(lq::test::fresh_dir());
  const auto r = render(session(m.dir, "loud", "", "reference = \"reference.wav\"\nloudness = true\n"), m.dir / "loud.wav");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(lq::test::libebur128_integrated(lq::test::read_audio_file(m.dir / "loud.wav")),
              lq::test::libebur128_integrated(m.original), 0.1);
}

TEST(Match, ASilentOrShortReferenceIsAClearErrorAndWritesNothing) {
  const fs::path dir = lq::test::fresh_dir();
  const Material m = make_material(dir);
  lq::test::write_audio_file(dir / "silence.wav", std::vector<std::vector<float>>(2, std::vector<float>(10 * kRate)), kRate);
  const auto silent = render(session(dir, "silent", "", "reference = \"silence.wav\"\n"), dir / "silent.wav");
  EXPECT_EQ(silent.exit_code, 1);
  EXPECT_NE(silent.err.find("silence.wav: the match reference is silent"), std::string::npos) << silent.err;
  EXPECT_FALSE(fs::exists(dir / "silent.wav"));
  std::vector<std::vector<float>> two_seconds = m.original.channels;
  for (auto& c : two_seconds) c.resize(2 * kRate);
  lq::test::write_audio_file(dir / "short.wav", two_seconds, kRate);
  const auto brief = render(session(dir, "brief", "", "reference = \"short.wav\"\n"), dir / "brief.wav");
  EXPECT_EQ(brief.exit_code, 1);
  EXPECT_NE(brief.err.find("short.wav: the match reference has"), std::string::npos) << brief.err;
  EXPECT_NE(brief.err.find("at least 3 s"), std::string::npos) << brief.err;
  EXPECT_FALSE(fs::exists(dir / "brief.wav"));
  const auto missing = render(session(dir, "missing", "", "amount = 0.5\n"), dir / "missing.wav");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("master.match.reference: missing"), std::string::npos) << missing.err;
}

TEST(Match, ACatalogSharesOneReferenceThroughItsPreset) {
  // The preset's reference is relative to the preset; every song of the batch is matched to it.
  const fs::path dir = lq::test::fresh_dir();
  fs::create_directories(dir / "refs");
  const Material m = make_material(dir / "refs");
  lq::test::write_text_file(dir / "refs" / "preset.toml",
                            "[master]\ntarget_lufs = -23.0\n[master.match]\nreference = \"reference.wav\"\nmax_db = 12.0\n");
  for (const char* song : {"one", "two"}) {
    fs::create_directories(dir / "catalog" / song);
    fs::copy_file(m.dir / "mix.wav", dir / "catalog" / song / "mix.wav");
  }
  const auto r = lq::test::run_lacquer({"batch", (dir / "catalog").string(), "-o", (dir / "out").string(), "--preset",
                                        (dir / "refs" / "preset.toml").string(), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> want = third_octave_db(m.original, kCentres);
  for (const char* song : {"one", "two"}) {
    const json report = json::parse(lq::test::read_text_file(dir / "out" / song / "report.json"));
    EXPECT_EQ(fs::path(report.at("master").at("match").at("reference").get<std::string>()),
              fs::absolute(dir / "refs" / "reference.wav").lexically_normal());
    const std::vector<double> got = third_octave_db(lq::test::read_audio_file(dir / "out" / song / "master.wav"), kCentres);
    EXPECT_LE(balance_error(got, want), 0.5) << song;
  }
}
