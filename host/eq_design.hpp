// Linear-phase EQ design (host, float64, shared by both backends).
//
// The target is the product of the bands' magnitudes from the analog (s-domain) RBJ cookbook
// prototypes; the FIR is designed by frequency sampling: target on a dense grid, zero phase,
// inverse FFT, Kaiser window to an odd length M (type-I linear phase, delay (M-1)/2).
// M ~ k * fs * max(1, Q) / f_low, capped at 65535. The realised response is checked.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace lq {

enum class EqBandType { bell, low_shelf, high_shelf, low_pass, high_pass, notch, tilt };

// Parses "bell", "low_shelf", ... ; returns false on an unknown name.
bool parse_eq_band_type(const std::string& name, EqBandType* out);
const char* eq_band_type_name(EqBandType t);

struct EqBand {
  EqBandType type = EqBandType::bell;
  double freq_hz = 1000.0;       // centre / corner / tilt pivot frequency
  double gain_db = 0.0;          // bell, shelves, tilt (tilt: gain_db at high end, -gain_db/2..+gain_db/2)
  double q = 0.7071067811865476; // bell, notch, shelves (shelf slope via Q), pass filters at 12 dB/oct
  int slope_db_per_oct = 12;     // low_pass / high_pass: 12, 24, 36 or 48 (Butterworth cascades)
};

struct EqDesign {
  std::vector<float> taps;       // odd length, symmetric; {1.0f} when every band is neutral
  double lowest_freq_hz = 0.0;   // the design is checked from here up to 0.45 fs (capped 20 kHz)
  double max_error_db = 0.0;     // worst |realised - target| over that range
};

// Target magnitude in dB of the bands at freq_hz (analog prototypes, no sampling effects).
double eq_target_db(std::span<const EqBand> bands, double freq_hz);

// True when the bands change nothing (empty, or all gains 0 for bell/shelf/tilt types).
bool eq_is_neutral(std::span<const EqBand> bands);

EqDesign design_linear_phase_eq(std::span<const EqBand> bands, double sample_rate);

}  // namespace lq
