// Linear-phase EQ design by frequency sampling (see eq_design.hpp for the contract).
//
// Band magnitudes are those of the analog prototypes, |H(j 2 pi f)|^2 as a function of
// w = (f / freq_hz)^2, with A = 10^(gain_db / 40) (RBJ "Cookbook formulae for audio EQ biquad
// filter coefficients", the s-domain transfer functions):
//   bell        H(s) = (s^2 + s A/Q + 1) / (s^2 + s/(A Q) + 1)
//   low shelf   H(s) = A (s^2 + s sqrt(A)/Q + A) / (A s^2 + s sqrt(A)/Q + 1)
//   high shelf  H(s) = A (A s^2 + s sqrt(A)/Q + 1) / (s^2 + s sqrt(A)/Q + A)
//   notch       H(s) = (s^2 + 1) / (s^2 + s/Q + 1)
//   low pass    12 dB/oct: 1 / (s^2 + s/Q + 1); n*6 dB/oct (n = 4, 6, 8): Butterworth of order n,
//               |H|^2 = 1 / (1 + (f/f0)^(2n)) = 1 / (1 + w^n)     (Butterworth 1930; any textbook)
//   high pass   12 dB/oct: s^2 / (s^2 + s/Q + 1); else |H|^2 = 1 / (1 + w^-n)
//   tilt        H(s) = (sqrt(G) s + 1) / (s + sqrt(G)), G = 10^(gain_db / 20)
#include "host/eq_design.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "host/real_fft.hpp"

namespace lq {

namespace {

constexpr double floor_db = -30.0;       // error check: attenuation beyond this only needs reaching it
constexpr double kaiser_beta = 8.0;      // side lobes ~ -58 dB, main lobe +-2.7 bins of fs/M
// At the length cap, narrower main lobes (at the cost of side lobes) before giving up.
constexpr double fallback_betas[] = {6.5, 5.0};
// Up to this length a design is the plain windowed one (every design of earlier versions, bit for
// bit); longer ones take kCorrections rounds of iterative frequency sampling (design_taps), which
// halve the length a narrow band needs (measured: a 25 Hz bell at q 10, 192 kHz: 0.36 dB off at
// 524287 taps plain, 0.074 dB at 460801 corrected; more rounds gain little).
constexpr int kPlainTaps = 65535;
constexpr int kCorrections = 5;
constexpr int min_taps = 33;
constexpr double warp_start = 0.45;      // of fs: the target is frozen smoothly from here to fs/2

bool changes_gain(EqBandType t) {
  return t == EqBandType::bell || t == EqBandType::low_shelf || t == EqBandType::high_shelf ||
         t == EqBandType::tilt;
}

bool band_is_neutral(const EqBand& b) {
  if (b.type == EqBandType::curve) return std::all_of(b.curve_db.begin(), b.curve_db.end(), [](double g) { return g == 0.0; });
  return changes_gain(b.type) && b.gain_db == 0.0;
}

// A curve band's gain in dB at freq_hz: linear in log frequency between its points.
double curve_db_at(const EqBand& b, double freq_hz) {
  const auto& f = b.curve_hz;
  if (f.empty()) return 0.0;
  if (freq_hz <= f.front()) return b.curve_db.front();
  if (freq_hz >= f.back()) return b.curve_db.back();
  const size_t k = static_cast<size_t>(std::upper_bound(f.begin(), f.end(), freq_hz) - f.begin());
  const double t = std::log(freq_hz / f[k - 1]) / std::log(f[k] / f[k - 1]);
  return b.curve_db[k - 1] + t * (b.curve_db[k] - b.curve_db[k - 1]);
}

// |H(j 2 pi f)|^2 of one band (formulas in the file header).
double band_power(const EqBand& b, double freq_hz) {
  const double r = freq_hz / b.freq_hz;
  const double w = r * r;
  const double u = (1.0 - w) * (1.0 - w);
  const int order = std::max(2, b.slope_db_per_oct / 6);
  switch (b.type) {
    case EqBandType::bell: {
      const double a = std::pow(10.0, b.gain_db / 40.0);
      return (u + w * (a / b.q) * (a / b.q)) / (u + w / ((a * b.q) * (a * b.q)));
    }
    case EqBandType::low_shelf:
    case EqBandType::high_shelf: {
      const double a = std::pow(10.0, b.gain_db / 40.0);
      const double mid = w * a / (b.q * b.q);
      const double lo = (a - w) * (a - w) + mid;          // |s^2 + s sqrt(A)/Q + A|^2
      const double hi = (1.0 - a * w) * (1.0 - a * w) + mid;  // |A s^2 + s sqrt(A)/Q + 1|^2
      return b.type == EqBandType::low_shelf ? a * a * lo / hi : a * a * hi / lo;
    }
    case EqBandType::notch:
      return u / (u + w / (b.q * b.q));
    case EqBandType::low_pass:
      if (order == 2) return 1.0 / (u + w / (b.q * b.q));
      return 1.0 / (1.0 + std::pow(w, order));
    case EqBandType::high_pass:
      if (order == 2) return w * w / (u + w / (b.q * b.q));
      return 1.0 / (1.0 + std::pow(w, -order));
    case EqBandType::tilt: {
      const double g = std::pow(10.0, b.gain_db / 20.0);
      return (g * w + 1.0) / (w + g);
    }
    case EqBandType::curve:
      return std::pow(10.0, curve_db_at(b, freq_hz) / 10.0);
  }
  return 1.0;
}

double target_power(std::span<const EqBand> bands, double freq_hz) {
  double p = 1.0;
  for (const EqBand& b : bands) {
    if (!band_is_neutral(b)) p *= band_power(b, freq_hz);
  }
  return p;
}

double power_to_db(double p) { return 10.0 * std::log10(std::max(p, 1e-40)); }

// Frequency at which the design grid samples the target: f below warp_start * fs, then a
// quadratic that reaches zero slope at fs/2 (so the periodic response has no kink at Nyquist).
double warped(double freq_hz, double fs) {
  const double a = warp_start * fs, span = 0.5 * fs - a;
  if (freq_hz <= a) return freq_hz;
  const double t = freq_hz - a;
  return a + t - t * t / (2.0 * span);
}

double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  for (int k = 1; k < 500 && term > 1e-17 * sum; ++k) {
    const double h = x / (2.0 * k);
    term *= h * h;
    sum += term;
  }
  return sum;
}

int64_t pow2_at_least(int64_t n) {
  int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

int odd_at_least(double m) {
  const int n = static_cast<int>(std::min<double>(std::ceil(m), kMaxEqTaps));
  return std::max(min_taps, n | 1);
}


// Symmetric Kaiser-windowed taps of length m from the zero-phase target sampled on a grid. The
// window smears the target over its main lobe (about 2.7 fs / m each side), which is what misses a
// narrow band; `corrections` rounds of iterative frequency sampling take that back where they can:
// the realised response on the grid is compared with the target and the difference added to what
// is sampled, then the taps are made again.
std::vector<float> design_taps(std::span<const EqBand> bands, double fs, int m, double beta, int corrections) {
  const int64_t n = std::max<int64_t>(pow2_at_least(16 * static_cast<int64_t>(m)), 1 << 14);
  RealFft inverse(n, true);
  std::vector<double> target(static_cast<size_t>(n / 2 + 1)), sampled;
  for (int64_t k = 0; k <= n / 2; ++k) {
    target[static_cast<size_t>(k)] = std::sqrt(target_power(bands, warped(static_cast<double>(k) * fs / static_cast<double>(n), fs)));
  }
  sampled = target;
  const int c = (m - 1) / 2;
  const double i0_beta = bessel_i0(beta);
  std::vector<double> window(static_cast<size_t>(c + 1)), h(static_cast<size_t>(c + 1));
  for (int j = 0; j <= c; ++j) {
    const double r = static_cast<double>(j) / static_cast<double>(c);
    window[static_cast<size_t>(j)] = bessel_i0(beta * std::sqrt(std::max(0.0, 1.0 - r * r))) / i0_beta;
  }
  std::unique_ptr<RealFft> forward;
  for (int round = 0;; ++round) {
    for (int64_t k = 0; k <= n / 2; ++k) {
      inverse.bins[k][0] = sampled[static_cast<size_t>(k)];
      inverse.bins[k][1] = 0.0;
    }
    fftw_execute(inverse.plan);  // inverse.real[j] = n * h(j), even in j
    for (int j = 0; j <= c; ++j) {
      h[static_cast<size_t>(j)] = inverse.real[j] / static_cast<double>(n) * window[static_cast<size_t>(j)];
    }
    if (round == corrections) break;
    // The realised zero-phase response on the same grid: the taps placed about index 0.
    if (!forward) forward = std::make_unique<RealFft>(n, false);
    std::fill(forward->real, forward->real + n, 0.0);
    for (int j = 0; j <= c; ++j) {
      forward->real[j] = h[static_cast<size_t>(j)];
      if (j > 0) forward->real[n - j] = h[static_cast<size_t>(j)];
    }
    fftw_execute(forward->plan);
    for (int64_t k = 0; k <= n / 2; ++k) {
      sampled[static_cast<size_t>(k)] += target[static_cast<size_t>(k)] - forward->bins[k][0];
    }
  }
  std::vector<float> taps(static_cast<size_t>(m));
  for (int j = 0; j <= c; ++j) {
    const float t = static_cast<float>(h[static_cast<size_t>(j)]);
    taps[static_cast<size_t>(c + j)] = t;
    taps[static_cast<size_t>(c - j)] = t;
  }
  return taps;
}

// Worst error (file header) of the taps' response against the target at every bin of an
// n-point DFT from lowest_freq_hz to min(0.45 fs, 20 kHz), n >= 8 M and >= 64 fs / lowest_freq_hz:
// finer than the window's resolution everywhere and 1/64 of the lowest frequency at the bottom.
double design_error_db(std::span<const EqBand> bands, std::span<const float> taps, double sample_rate,
                       double lowest_freq_hz) {
  const int64_t m = static_cast<int64_t>(taps.size());
  const int64_t c = (m - 1) / 2;
  const double top = std::min(0.45 * sample_rate, 20000.0);
  const int64_t n = pow2_at_least(std::max<int64_t>(8 * m, static_cast<int64_t>(64.0 * sample_rate / lowest_freq_hz)));
  RealFft fft(n, false);
  std::fill(fft.real, fft.real + n, 0.0);
  for (int64_t j = 0; j < m; ++j) fft.real[(j - c + n) % n] = static_cast<double>(taps[static_cast<size_t>(j)]);
  fftw_execute(fft.plan);
  const double bin_hz = sample_rate / static_cast<double>(n);
  double worst = 0.0;
  for (auto k = static_cast<int64_t>(std::ceil(lowest_freq_hz / bin_hz)); static_cast<double>(k) * bin_hz <= top; ++k) {
    const double realised = power_to_db(fft.bins[k][0] * fft.bins[k][0] + fft.bins[k][1] * fft.bins[k][1]);
    const double target = eq_target_db(bands, static_cast<double>(k) * bin_hz);
    const double err = target >= floor_db ? std::fabs(realised - target) : std::max(0.0, realised - floor_db);
    worst = std::max(worst, err);
  }
  return worst;
}

}  // namespace

bool parse_eq_band_type(const std::string& name, EqBandType* out) {
  for (EqBandType t : {EqBandType::bell, EqBandType::low_shelf, EqBandType::high_shelf, EqBandType::low_pass,
                       EqBandType::high_pass, EqBandType::notch, EqBandType::tilt}) {
    if (name == eq_band_type_name(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

const char* eq_band_type_name(EqBandType t) {
  switch (t) {
    case EqBandType::bell: return "bell";
    case EqBandType::low_shelf: return "low_shelf";
    case EqBandType::high_shelf: return "high_shelf";
    case EqBandType::low_pass: return "low_pass";
    case EqBandType::high_pass: return "high_pass";
    case EqBandType::notch: return "notch";
    case EqBandType::tilt: return "tilt";
    case EqBandType::curve: return "curve";
  }
  return "unknown";
}

double eq_target_db(std::span<const EqBand> bands, double freq_hz) {
  return power_to_db(target_power(bands, freq_hz));
}

bool eq_is_neutral(std::span<const EqBand> bands) {
  return std::all_of(bands.begin(), bands.end(), band_is_neutral);
}

EqDesign design_linear_phase_eq(std::span<const EqBand> bands, double sample_rate) {
  EqDesign d;
  if (eq_is_neutral(bands)) {
    d.taps = {1.0f};
    return d;
  }
  if (!(sample_rate > 0.0)) throw std::invalid_argument("EQ design: sample rate must be positive");
  for (const EqBand& b : bands) {
    const bool slope_ok = b.slope_db_per_oct == 12 || b.slope_db_per_oct == 24 || b.slope_db_per_oct == 36 ||
                          b.slope_db_per_oct == 48;
    if (!(b.freq_hz > 0.0) || !(b.q > 0.0) || !std::isfinite(b.gain_db) || !slope_ok) {
      throw std::invalid_argument(std::string("EQ design: invalid ") + eq_band_type_name(b.type) +
                                  " band (freq_hz and q must be positive, slope 12/24/36/48 dB/oct)");
    }
  }
  // The start: about 6 periods of each band's frequency, times its q where it sits in the checked
  // range (its width there is freq_hz / q); a band under it only shows its skirt there.
  double m_start = 0.0;
  for (const EqBand& b : bands) {
    if (band_is_neutral(b)) continue;
    m_start = std::max(m_start, 6.0 * sample_rate * (b.freq_hz >= kEqCheckLowHz ? std::max(1.0, b.q) : 1.0) / b.freq_hz);
  }
  d.lowest_freq_hz = kEqCheckLowHz;
  for (int m = odd_at_least(m_start);; m = odd_at_least(1.25 * m)) {
    d.taps = design_taps(bands, sample_rate, m, kaiser_beta, m > kPlainTaps ? kCorrections : 0);
    d.max_error_db = design_error_db(bands, d.taps, sample_rate, d.lowest_freq_hz);
    if (d.max_error_db <= kEqToleranceDb || m >= kMaxEqTaps) break;
  }
  for (double beta : fallback_betas) {
    if (d.max_error_db <= kEqToleranceDb) break;
    auto taps = design_taps(bands, sample_rate, kMaxEqTaps, beta, kCorrections);
    const double err = design_error_db(bands, taps, sample_rate, d.lowest_freq_hz);
    if (err < d.max_error_db) {
      d.taps = std::move(taps);
      d.max_error_db = err;
    }
  }
  return d;
}

}  // namespace lq
