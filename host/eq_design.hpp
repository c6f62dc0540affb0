// Linear-phase EQ design (host, float64, shared by both backends).
//
// The target is the product of the bands' magnitudes from the analog (s-domain) RBJ cookbook
// prototypes; the FIR is designed by frequency sampling: target on a dense grid, zero phase,
// inverse FFT, Kaiser window to an odd length M (type-I linear phase, delay (M-1)/2).
// M ~ k * fs * max(1, Q) / f_low, capped at kMaxEqTaps (524287). The realised response is checked.
//
// Band shapes (analog prototypes, |H(j 2 pi f)|; exact formulas in eq_design.cpp):
//  - bell, low_shelf, high_shelf, notch: RBJ cookbook s-domain forms. Bell: gain_db at freq_hz;
//    shelves: gain_db far beyond freq_hz, gain_db / 2 at freq_hz, q the RBJ shelf Q.
//  - low_pass / high_pass: 12 dB/oct is the RBJ second-order section with q (Butterworth at
//    q = 1/sqrt(2)); 24, 36, 48 dB/oct are Butterworth of order 4, 6, 8 (q unused), -3.01 dB at
//    freq_hz.
//  - tilt: first-order shelving pair H(s) = (sqrt(G) s/w0 + 1) / (s/w0 + sqrt(G)), G = 10^(gain_db/20),
//    w0 = 2 pi freq_hz: -gain_db/2 far below freq_hz, +gain_db/2 far above, 0 dB at freq_hz, and
//    antisymmetric in dB about freq_hz on a log frequency axis (corners at freq_hz / sqrt(G) and
//    freq_hz * sqrt(G)).
//
// Design: the target's magnitude is sampled at k fs / N, N = 2^p >= 16 M, zero phase; from 0.45 fs
// to fs/2 it is sampled at a frequency that bends smoothly to stand still at Nyquist (no kink in the
// periodic response); inverse FFT (double); Kaiser window, beta = 8; taps rounded to float and
// mirrored, so symmetry is exact. M starts at the largest 6 fs max(1, q) / freq_hz over the
// non-neutral bands (q counted for bands at or above 20 Hz only; odd, >= 33) and grows by 1.25x
// until max_error_db <= 0.1 or M = kMaxEqTaps; at the cap, Kaiser beta 6.5 then 5 (narrower main
// lobe, side lobes ~ -54 dB at 5) are tried, and the best design is kept (max_error_db then says how
// far off it is, and render refuses it: host/mixing.hpp require_realisable_eq). Designs longer than
// 65535 taps take 5 rounds of iterative frequency sampling (eq_design.cpp design_taps). What cannot
// be met: a band narrower (freq_hz / q) than about 4.5 fs / kMaxEqTaps for a boost, 11.5 fs /
// kMaxEqTaps for a 30 dB cut (at 48 kHz 0.41 and 1.04 Hz); docs/algorithms.md "EQ design".
//
// Check: from kEqCheckLowHz (20 Hz) to min(0.45 fs, 20 kHz), the audio band. Error at every bin of a
// fine DFT (spacing <= fs / (8 M) and <= 20 Hz / 64): |realised_db - target_db| where target_db >=
// -30 dB; where the target is below -30 dB (pass filters' stop bands, a notch's centre) the
// realised response only has to be at or below -30 dB, and the excess above -30 dB counts as error.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace lq {

inline constexpr double kEqToleranceDb = 0.1;      // the realised response's allowed error
inline constexpr int kMaxEqTaps = (1 << 19) - 1;   // 524287: the longest filter the designer makes
inline constexpr double kEqCheckLowHz = 20.0;      // the response is checked from here up

// `curve` is not a session band: a response given point by point (curve_hz, curve_db), made by
// the reference match (host/match.hpp); between its points the dB value is linear in log
// frequency, beyond its ends it holds the end's value.
enum class EqBandType { bell, low_shelf, high_shelf, low_pass, high_pass, notch, tilt, curve };

// Parses "bell", "low_shelf", ... ; returns false on an unknown name.
bool parse_eq_band_type(const std::string& name, EqBandType* out);
const char* eq_band_type_name(EqBandType t);

struct EqBand {
  EqBandType type = EqBandType::bell;
  double freq_hz = 1000.0;       // centre / corner / tilt pivot frequency
  double gain_db = 0.0;          // bell, shelves, tilt (tilt: gain_db at high end, -gain_db/2..+gain_db/2)
  double q = 0.7071067811865476; // bell, notch, shelves (shelf slope via Q), pass filters at 12 dB/oct
  int slope_db_per_oct = 12;     // low_pass / high_pass: 12, 24, 36 or 48 (Butterworth cascades)
  std::vector<double> curve_hz{}, curve_db{};  // curve: ascending frequencies and their gains
};

struct EqDesign {
  std::vector<float> taps;       // odd length, symmetric; {1.0f} when every band is neutral
  double lowest_freq_hz = 0.0;   // the design is checked from here (20 Hz) up to 0.45 fs (capped 20 kHz)
  double max_error_db = 0.0;     // worst |realised - target| over that range
};

// Target magnitude in dB of the bands at freq_hz (analog prototypes, no sampling effects).
double eq_target_db(std::span<const EqBand> bands, double freq_hz);

// True when the bands change nothing (empty, or all gains 0 for bell/shelf/tilt types).
bool eq_is_neutral(std::span<const EqBand> bands);

EqDesign design_linear_phase_eq(std::span<const EqBand> bands, double sample_rate);

}  // namespace lq
