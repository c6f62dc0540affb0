// The series `render --html` records (the report's master.series) and the page drawn from them:
// momentary and short-term loudness every 100 ms equal libebur128's meter read at the same
// moments of the delivered file; before the finishing they are the same less the gain where the
// limiter is idle; the limiter's gain reduction is zero there and shows the burst it limits, never
// above the limiter's own largest figure; the ten highest true peaks start with the master's true
// peak, in distinct 100 ms steps, in the burst; a 1 kHz sine's 1/3-octave band reads its level;
// and every line of the page carries exactly the report's values.
#include <gtest/gtest.h>

#include <ebur128.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kRate = 48000;

// No loudness target (no gain): 6 s of noise at -26 dBFS RMS (peaks far under the ceiling) with a
// burst 20 dB louder from 2.0 to 3.0 s (far over it: only the burst is limited); beside it, in its
// own group, a 1 kHz tone at -40 dBFS, at -20 dBFS from 4.0 to 5.0 s, through a compressor at
// -30 dB, 4:1 (7.5 dB of reduction there, none elsewhere).
fs::path burst_session(const fs::path& dir) {
  std::mt19937 rng(lq::test::test_seed());
  std::normal_distribution<double> g(0.0, 0.05);
  std::vector<std::vector<float>> x(2, std::vector<float>(6 * kRate)), tone(1, std::vector<float>(6 * kRate));
  for (auto& c : x) {
    for (size_t i = 0; i < c.size(); ++i) c[i] = float(g(rng) * (i >= 2 * kRate && i < 3 * kRate ? 10.0 : 1.0));
  }
  for (size_t i = 0; i < tone[0].size(); ++i) {
    tone[0][i] = float((i >= 4 * kRate && i < 5 * kRate ? 0.1 : 0.01) * std::sin(2.0 * M_PI * 1000.0 * double(i) / kRate));
  }
  lq::test::write_audio_file(dir / "noise.wav", x, kRate);
  lq::test::write_audio_file(dir / "tone.wav", tone, kRate);
  lq::test::write_text_file(dir / "s.toml",
                            "[stems.noise]\nfile = \"noise.wav\"\ngroup = \"music\"\n\n[stems.tone]\nfile = \"tone.wav\"\n"
                            "group = \"tones\"\ncompressor = { threshold_db = -30.0, ratio = 4.0, attack_ms = 5.0, release_ms = 50.0 }\n"
                            "\n[master]\nceiling_dbtp = -1.0\n");
  return dir / "s.toml";
}

double at(const json& v) { return v.is_number() ? v.get<double>() : -HUGE_VAL; }

}  // namespace

TEST(ReportSeries, LoudnessLimitingAndPeaksAgreeWithLibebur128AndTheSignal) {
  const fs::path dir = lq::test::fresh_dir();
  const auto r = lq::test::run_lacquer({"render", burst_session(dir).string(), "-o", (dir / "m.wav").string(), "--html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("html      " + (dir / "m.html").string()), std::string::npos) << r.out;
  const json report = json::parse(lq::test::read_text_file(dir / "m.json"));
  const json& m = report.at("master");
  const json& s = m.at("series");
  EXPECT_EQ(s.at("step_s").get<double>(), 0.1);
  const json& mom = s.at("after").at("momentary_lufs");
  const json& st = s.at("after").at("short_term_lufs");
  ASSERT_EQ(mom.size(), 60u);  // 6 s in 100 ms steps
  ASSERT_EQ(st.size(), 60u);

  // libebur128 fed the delivered file 100 ms at a time, read after each step.
  const auto file = lq::test::read_audio_file(dir / "m.wav");
  ebur128_state* e = ebur128_init(2, kRate, EBUR128_MODE_M | EBUR128_MODE_S);
  std::vector<float> inter(2 * kRate / 10);
  for (size_t k = 0; k < 60; ++k) {
    for (int i = 0; i < kRate / 10; ++i) {
      for (int c = 0; c < 2; ++c) inter[size_t(2 * i + c)] = file.channels[size_t(c)][k * kRate / 10 + size_t(i)];
    }
    ebur128_add_frames_float(e, inter.data(), kRate / 10);
    double lm = 0.0, ls = 0.0;
    ebur128_loudness_momentary(e, &lm);
    ebur128_loudness_shortterm(e, &ls);
    if (k >= 3) {
      EXPECT_NEAR(at(mom[k]), lm, 0.01) << "momentary at step " << k;
    }
    if (k >= 29) {
      EXPECT_NEAR(at(st[k]), ls, 0.01) << "short-term at step " << k;
    }
  }
  ebur128_destroy(&e);

  // Before the finishing: the same less the gain where the limiter is idle (windows clear of the
  // burst).
  const double gain = m.at("gain_applied_db").get<double>();
  const json& before = s.at("before").at("momentary_lufs");
  for (size_t k : {5u, 10u, 18u, 36u, 45u, 59u}) EXPECT_NEAR(at(before[k]) + gain, at(mom[k]), 0.05) << k;

  // The limiter's gain reduction: none away from the burst, some in it, never more than its most.
  const json& gr = s.at("limiter_gain_reduction_db");
  ASSERT_EQ(gr.size(), 60u);
  double most = 0.0;
  size_t where = 0;
  for (size_t k = 0; k < 60; ++k) {
    if (gr[k].get<double>() > most) {
      most = gr[k].get<double>();
      where = k;
    }
    if (k < 19 || k > 35) {  // the release after the burst
      EXPECT_LT(gr[k].get<double>(), 0.05) << k;
    }
  }
  EXPECT_GT(most, 0.5);
  EXPECT_GE(where, 19u);
  EXPECT_LE(where, 30u);
  EXPECT_LE(most, m.at("limiter").at("max_gain_reduction_db").get<double>() + 0.01);

  // The compressor's deepest reduction per step: its largest over the steps is its own most, and it
  // is deepest in the burst.
  const json& comps = s.at("compressors");
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].at("bus"), "stem tone");
  const json& cg = comps[0].at("gain_reduction_db");
  ASSERT_EQ(cg.size(), 60u);
  double deepest = 0.0;
  for (const auto& v : cg) deepest = std::max(deepest, v.get<double>());
  EXPECT_NEAR(deepest, report.at("stems").at(1).at("compressor").at("max_gain_reduction_db").get<double>(), 0.0005);  // 0.001 dB steps
  // Per sample the detector reads up to (-23 - -30) * (1 - 1/4) = 5.25 dB (a mono stem is panned
  // -3 dB); the smoothing between the sine's peaks and zeros keeps it under that.
  EXPECT_GT(cg[45].get<double>(), 3.0);
  EXPECT_LT(cg[45].get<double>(), 5.26);
  EXPECT_LT(cg[20].get<double>(), 0.01);

  // The highest true peaks.
  const json& peaks = s.at("top_true_peaks");
  ASSERT_EQ(peaks.size(), 10u);
  EXPECT_NEAR(peaks[0].at("dbtp").get<double>(), m.at("after").at("true_peak_dbtp").get<double>(), 1e-9);
  std::vector<int64_t> steps;
  for (size_t i = 0; i < peaks.size(); ++i) {
    if (i > 0) {
      EXPECT_LE(peaks[i].at("dbtp").get<double>(), peaks[i - 1].at("dbtp").get<double>());
    }
    const double t = peaks[i].at("time_s").get<double>();
    EXPECT_EQ(peaks[i].at("frame").get<int64_t>(), std::llround(t * kRate));
    steps.push_back(peaks[i].at("frame").get<int64_t>() / (kRate / 10));
  }
  std::sort(steps.begin(), steps.end());
  EXPECT_EQ(std::unique(steps.begin(), steps.end()), steps.end()) << "one peak per 100 ms step";
  EXPECT_GE(peaks[0].at("time_s").get<double>(), 2.0);
  EXPECT_LE(peaks[0].at("time_s").get<double>(), 3.01);

  // The page: each line's values are the report's.
  const std::string html = lq::test::read_text_file(dir / "m.html");
  for (const char* id : {"plot-loudness", "plot-gain-reduction", "plot-spectrum"}) {
    EXPECT_NE(html.find(std::string("<svg id=\"") + id + "\""), std::string::npos) << id;
  }
  const std::regex line("data-series=\"master\\.series\\.([a-z0-9_.]+)\" data-values=\"([^\"]*)\"");
  int lines = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), line); it != std::sregex_iterator(); ++it, ++lines) {
    json want = s;
    std::string path = (*it)[1];
    for (size_t p = 0; p != std::string::npos;) {
      const size_t q = path.find('.', p);
      const std::string part = path.substr(p, q == std::string::npos ? q : q - p);
      want = want.is_array() ? want.at(std::stoul(part)) : want.at(part);
      p = q == std::string::npos ? q : q + 1;
    }
    EXPECT_EQ(json::parse(std::string((*it)[2])), want) << path;
  }
  // Momentary after, short-term before and after; the limiter; spectra before and after; the compressor.
  EXPECT_EQ(lines, 7);
  // Nothing to fetch: the only address in the page is SVG's namespace, and no element loads a file.
  for (size_t p = html.find("://"); p != std::string::npos; p = html.find("://", p + 1)) {
    ASSERT_GE(p, 4u);
    EXPECT_EQ(html.compare(p - 4, 26, "http://www.w3.org/2000/svg"), 0) << html.substr(p - 4, 60);
  }
  for (const char* tag : {"<script src", "<link", "<img", "url(", "@import", "<iframe"}) {
    EXPECT_EQ(html.find(tag), std::string::npos) << tag;
  }
}

TEST(ReportSeries, AThirdOctaveBandReadsASinesLevel) {
  const fs::path dir = lq::test::fresh_dir();
  std::vector<std::vector<float>> x(2, std::vector<float>(5 * kRate));
  const double amplitude = 0.25;  // -12.04 dBFS
  for (auto& c : x) {
    for (size_t i = 0; i < c.size(); ++i) c[i] = float(amplitude * std::sin(2.0 * M_PI * 1000.0 * double(i) / kRate));
  }
  lq::test::write_audio_file(dir / "sine.wav", x, kRate);
  lq::test::write_text_file(dir / "s.toml", "[stems.sine]\nfile = \"sine.wav\"\ngroup = \"music\"\n");
  const auto r = lq::test::run_lacquer({"render", (dir / "s.toml").string(), "-o", (dir / "m.wav").string(), "--html", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json sp = json::parse(lq::test::read_text_file(dir / "m.json")).at("master").at("series").at("spectrum");
  const json& hz = sp.at("hz");
  ASSERT_EQ(hz.size(), sp.at("after_db").size());
  EXPECT_NEAR(hz.front().get<double>(), 25.1189, 1e-3);
  EXPECT_NEAR(hz.back().get<double>(), 19952.6, 0.1);  // the last centre under 0.45 fs
  size_t k1 = 0;
  for (size_t k = 0; k < hz.size(); ++k) {
    if (std::fabs(hz[k].get<double>() - 1000.0) < 1.0) k1 = k;
  }
  ASSERT_GT(k1, 0u);
  const double expected = 20.0 * std::log10(amplitude) - 3.0103;  // a sine's mean square
  EXPECT_NEAR(sp["after_db"][k1].get<double>(), expected, 0.1);
  EXPECT_NEAR(sp["before_db"][k1].get<double>(), expected, 0.1);
  // Two bands away the window's leakage is far down.
  EXPECT_LT(at(sp["after_db"][k1 + 2]), expected - 40.0);
  EXPECT_LT(at(sp["after_db"][k1 - 2]), expected - 40.0);
}
