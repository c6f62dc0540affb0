// labels: slow
// Every EQ band type at the extremes of its documented range (freq_hz 10 and 40000 Hz, q 0.05 and
// 50, gain_db -30 and +30, the steepest slope) and the ordinary low-end moves that a 65535-tap cap
// missed, at 44.1, 48, 96 and 192 kHz: either the design is within 0.1 dB of its analog prototype
// from 20 Hz to min(0.45 fs, 20 kHz) (the prototype evaluated here from its poles and zeros with
// complex arithmetic, the realised FIR by a direct float64 cosine sum: neither is the designer's
// code), or render refuses it before any audio (require_realisable_eq), and only for a band
// narrower than the documented limit.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "host/eq_design.hpp"
#include "support/eq_bands.hpp"
#include "host/errors.hpp"
#include "host/mixing.hpp"

namespace {

using lq::EqBand;
using lq::EqBandType;
using cd = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

EqBand band(EqBandType t, double f, double gain_db = 0.0, double q = 0.7071067811865476, int slope = 12) {
  return lq::test::eq_band(t, f, gain_db, q, slope);
}

std::vector<EqBand> extremes() {
  std::vector<EqBand> c;
  for (double f : {10.0, 20.0, 40000.0}) {
    for (double q : {0.05, 50.0}) {
      for (double g : {-30.0, 30.0}) c.push_back(band(EqBandType::bell, f, g, q));
    }
  }
  for (auto t : {EqBandType::low_shelf, EqBandType::high_shelf}) {
    for (double f : {10.0, 40000.0}) {
      for (double q : {0.05, 50.0}) {
        for (double g : {-30.0, 30.0}) c.push_back(band(t, f, g, q));
      }
    }
  }
  for (auto t : {EqBandType::low_pass, EqBandType::high_pass}) {
    for (double f : {10.0, 20.0, 40000.0}) {
      c.push_back(band(t, f, 0.0, 0.7071067811865476, 48));
      c.push_back(band(t, f, 0.0, 50.0));
      c.push_back(band(t, f, 0.0, 0.05));
    }
  }
  for (double f : {10.0, 40000.0}) {
    for (double q : {0.05, 50.0}) c.push_back(band(EqBandType::notch, f, 0.0, q));
  }
  for (double f : {10.0, 40000.0}) {
    for (double g : {-30.0, 30.0}) c.push_back(band(EqBandType::tilt, f, g, 0.7071067811865476));
  }
  // Ordinary low-end mastering moves.
  c.push_back(band(EqBandType::bell, 25.0, 9.0, 10.0));
  c.push_back(band(EqBandType::high_pass, 30.0, 0.0, 0.7071067811865476, 48));
  c.push_back(band(EqBandType::bell, 40.0, 9.0, 4.0));
  c.push_back(band(EqBandType::low_shelf, 30.0, 6.0, 2.0));
  return c;
}

// The analog prototype H(j 2 pi f), from its s-domain form (RBJ cookbook; Butterworth from its
// poles on the unit circle), s normalised to the band's frequency.
cd prototype(const EqBand& b, double f) {
  const cd s(0.0, f / b.freq_hz);
  const double a = std::pow(10.0, b.gain_db / 40.0), q = b.q;
  const int order = b.slope_db_per_oct / 6;
  auto butterworth_low = [&](cd x) {
    cd h = 1.0;
    for (int k = 1; k <= order; ++k) h /= x - std::polar(1.0, kPi * double(2 * k + order - 1) / double(2 * order));
    return h;
  };
  switch (b.type) {
    case EqBandType::bell: return (s * s + s * a / q + 1.0) / (s * s + s / (a * q) + 1.0);
    case EqBandType::low_shelf: return a * (s * s + s * std::sqrt(a) / q + a) / (a * s * s + s * std::sqrt(a) / q + 1.0);
    case EqBandType::high_shelf: return a * (a * s * s + s * std::sqrt(a) / q + 1.0) / (s * s + s * std::sqrt(a) / q + a);
    case EqBandType::notch: return (s * s + 1.0) / (s * s + s / q + 1.0);
    case EqBandType::low_pass: return order == 2 ? 1.0 / (s * s + s / q + 1.0) : butterworth_low(s);
    case EqBandType::high_pass: return order == 2 ? s * s / (s * s + s / q + 1.0) : butterworth_low(1.0 / s);
    case EqBandType::tilt: {
      const double g = std::sqrt(std::pow(10.0, b.gain_db / 20.0));
      return (g * s + 1.0) / (s + g);
    }
    case EqBandType::curve:  // not a prototype: the reference match's points (match_cli_test.cpp)
      break;
  }
  return 1.0;
}

// The zero-phase amplitude of symmetric taps at f in dB: h[c] + 2 sum_j h[c + j] cos(w j), the
// cosines by the angle-addition recurrence (re-anchored every 4096 terms).
double realised_db(const std::vector<float>& taps, double fs, double f) {
  const size_t c = (taps.size() - 1) / 2;
  const double w = 2.0 * kPi * f / fs;
  double a = taps[c], cos_j = 1.0, sin_j = 0.0;
  const double cw = std::cos(w), sw = std::sin(w);
  for (size_t j = 1; j <= c; ++j) {
    if (j % 4096 == 0) {
      cos_j = std::cos(w * double(j));
      sin_j = std::sin(w * double(j));
    } else {
      const double next = cos_j * cw - sin_j * sw;
      sin_j = sin_j * cw + cos_j * sw;
      cos_j = next;
    }
    a += 2.0 * double(taps[c + j]) * cos_j;
  }
  return 20.0 * std::log10(std::max(std::fabs(a), 1e-20));
}

std::string name_of(const EqBand& b) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s_%gHz_%gdB_q%g_%ddBoct", lq::eq_band_type_name(b.type), b.freq_hz, b.gain_db, b.q,
                b.slope_db_per_oct);
  std::string s = buf;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

class EqExtremes : public ::testing::TestWithParam<std::tuple<int, double>> {};

}  // namespace

TEST_P(EqExtremes, MeetTheirPrototypeWithinATenthOfADecibelOrAreRefused) {
  const EqBand b = extremes()[size_t(std::get<0>(GetParam()))];
  const double fs = std::get<1>(GetParam());
  const std::vector<EqBand> bands{b};
  const auto design = lq::eq_design_for(bands, fs);
  ASSERT_TRUE(design);
  const double width = b.freq_hz / std::max(1.0, b.q);
  bool refused = false;
  try {
    lq::require_realisable_eq(bands, fs, "s.toml", "stems.x.eq");
  } catch (const lq::UserError& e) {
    refused = true;
    EXPECT_NE(std::string(e.what()).find("s.toml: stems.x.eq: the linear-phase EQ cannot follow"), std::string::npos) << e.what();
  }
  if (refused) {
    // Only a band narrower than the documented limit: about 4.5 fs / kMaxEqTaps for a boost,
    // 11.5 fs / kMaxEqTaps for a 30 dB cut.
    EXPECT_LT(width, 12.0 * fs / lq::kMaxEqTaps) << "refused at " << design->taps.size() << " taps, " << design->max_error_db << " dB";
    return;
  }
  ASSERT_LE(design->taps.size(), size_t(lq::kMaxEqTaps));
  // 48 points per octave over the checked range, and 64 across the band's width around it.
  const double top = std::min(0.45 * fs, 20000.0);
  std::vector<double> at;
  for (double f = 20.0; f <= top; f *= std::pow(2.0, 1.0 / 48.0)) at.push_back(f);
  for (int i = -32; i <= 32; ++i) {
    const double f = b.freq_hz + width * double(i) / 16.0;
    if (f >= 20.0 && f <= top) at.push_back(f);
  }
  double worst = 0.0;
  for (const double f : at) {
    const double target = 20.0 * std::log10(std::abs(prototype(b, f)));
    const double realised = realised_db(design->taps, fs, f);
    if (target >= -30.0) {
      EXPECT_NEAR(realised, target, 0.1) << "at " << f << " Hz (" << design->taps.size() << " taps)";
      worst = std::max(worst, std::fabs(realised - target));
    } else {
      EXPECT_LT(realised, -29.9) << "stop band at " << f << " Hz";
    }
  }
  RecordProperty("taps", std::to_string(design->taps.size()));
  RecordProperty("worst_error_db", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(BandsAndRates, EqExtremes,
                         ::testing::Combine(::testing::Range(0, static_cast<int>(extremes().size())),
                                            ::testing::Values(44100.0, 48000.0, 96000.0, 192000.0)),
                         [](const auto& p) {
                           return name_of(extremes()[size_t(std::get<0>(p.param))]) + "_" +
                                  std::to_string(static_cast<int>(std::get<1>(p.param)));
                         });
