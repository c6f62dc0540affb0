// labels: slow
// The true-peak ceiling on what is delivered, read by readers Lacquer does not use. 200 renders of
// signals that break 4x detection, at 44.1, 48 and 96 kHz, ceilings -0.1, -1 and -3 dBTP, 16- and
// 24-bit with dither; half of them band-limited to 0.49 fs first. What holds (docs/algorithms.md
// "The reconstruction bound"):
// - band-limited: the float64 ideal reconstruction (tests/reference/reconstruction.hpp) never
//   above the ceiling by more than 0.01 dB (measured: never above it);
// - content up to fs/2: within 0.01 dB too (measured worst 0.0013 dB, noise concentrated at
//   Nyquist; 0.074 dB when the bound's first stage was 8192 taps);
// - libebur128 (its own 4x and 2x interpolators, which read broadband noise up to 0.19 dB above
//   the ideal reconstruction) never above the ceiling: the limiter holds its readings too;
// - libswresample upsampling to 192 kHz as ffmpeg's `ebur128=peak=true` does: never above the
//   ceiling at 48 and 96 kHz (4x and 2x: its phases are among the limiter's); at 44.1 kHz its
//   points fall between the limiter's, and it is held by the bound: within 0.01 dB band-limited,
//   0.1 dB with content up to fs/2 (measured 0.022 dB, broadband noise).
#include <gtest/gtest.h>

#include <sndfile.h>

#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "reference/reconstruction.hpp"
#include "support/hot_stems.hpp"
#include "support/libebur128_meter.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(TruePeakCeiling, HoldsOnTheIdealReconstructionOf200Renders) {
  std::mt19937 rng(2026);
  const fs::path dir = lq::test::fresh_dir();
  const int rates[] = {44100, 48000, 96000};
  const double ceilings[] = {-0.1, -1.0, -3.0};
  double worst_ref = -100.0, worst_ebu = -100.0, worst_band_limited = -100.0, worst_swr = -100.0;
  int renders = 0;
  for (int i = 0; i < 200; ++i) {
    const int kind = i % 5, rate = rates[(i / 5) % 3];
    const double ceiling = ceilings[(i / 15) % 3];
    const int bits = (i / 45) % 2 ? 16 : 24;
    // Half the renders: the stem band-limited to 0.49 fs first, as a mix through a sample-rate
    // converter or an anti-alias filter is; the rest as generated, with content up to fs/2.
    const bool band_limited = i % 2 == 0;
    auto x = lq::test::hot_stem(kind, rng, 3000);
    if (band_limited) {
      for (auto& c : x) {
        const auto y = lq::test::low_pass(std::vector<double>(c.begin(), c.end()), 0.49);
        c.assign(y.begin(), y.end());
      }
    }
    lq::test::write_audio_file(dir / "x.wav", x, rate);
    lq::test::write_text_file(dir / "s.toml", "[stems.x]\nfile = \"x.wav\"\ngroup = \"g\"\n[master]\nbit_depth = " +
                                                   std::to_string(bits) + "\nceiling_dbtp = " + std::to_string(ceiling) +
                                                   "\ntail_s = 0.0\n");
    const auto r = lq::test::run_lacquer({"render", (dir / "s.toml").string(), "-o", (dir / "m.wav").string(), "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = lq::test::read_audio_file(dir / "m.wav");
    double ref = 0.0;
    for (const auto& c : out.channels) ref = std::max(ref, lq::test::reconstruction_peak(c));
    const double ref_over = 20.0 * std::log10(ref) - ceiling;
    const double ebu_over = 20.0 * std::log10(lq::test::libebur128_true_peak(out)) - ceiling;
    worst_ref = std::max(worst_ref, ref_over);
    if (band_limited) worst_band_limited = std::max(worst_band_limited, ref_over);
    worst_ebu = std::max(worst_ebu, ebu_over);
    // (Away from the ends, which start and stop at full level: libswresample pads them mirrored.)
    const double swr_over = 20.0 * std::log10(lq::test::libswresample_true_peak(out, 32)) - ceiling;
    worst_swr = std::max(worst_swr, swr_over);
    EXPECT_LE(swr_over, rate != 44100 ? 0.0 : band_limited ? 0.01 : 0.1) << "render " << i << ": kind " << kind << ", " << rate << " Hz, " << ceiling << " dBTP, " << bits << "-bit";
    EXPECT_LE(ref_over, 0.01) << "render " << i << ": kind " << kind << ", " << rate << " Hz, " << ceiling << " dBTP, "
                              << bits << "-bit";
    EXPECT_LE(ebu_over, 0.0) << "render " << i << ": kind " << kind << ", " << rate << " Hz, " << ceiling << " dBTP, " << bits << "-bit";
    ++renders;
  }
  std::printf("%d renders: worst over the ceiling on the ideal reconstruction %.4f dB (band-limited %.4f dB), "
              "on libebur128 %.4f dB, on libswresample (ffmpeg) %.4f dB\n", renders, worst_ref, worst_band_limited, worst_ebu,
              worst_swr);
}

}  // namespace
