// Reference matching (`[master.match]`, docs/algorithms.md "Reference matching"): the mix's tonal
// balance moved toward a reference's. Both long-term average spectra are measured the same way
// (plain, unweighted power: the EQ acts on the plain signal; Hann frames of about 170 ms, half
// overlapping, channels summed; a frame counts when its mean square is above -70 dBFS and within
// 20 dB of the mean of those: silence and fades do not colour the spectrum), smoothed over
// `smoothing` octaves on a grid of 1/24 octave from 20 Hz to min(20 kHz, 0.45 fs), and their
// difference in dB, less its mean over the grid (the match moves the balance, the loudness
// normalisation the level), limited to +-max_db, smoothed again where that is finer than 40 Hz (so
// the designer meets it within its 0.1 dB at tens of thousands of taps) and scaled by `amount`,
// is a curve band (host/eq_design.hpp) designed with the master's own bands.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/eq_design.hpp"
#include "host/session.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

// A long-term average spectrum: the mean power per bin of the frames that pass the gates.
struct LongTermSpectrum {
  double sample_rate = 0.0;
  int64_t frame = 0;             // FFT size (bins: frame / 2 + 1)
  std::vector<double> power;     // per bin, mean over the counted frames, channels summed
  int64_t frames_counted = 0;
  double seconds_counted = 0.0;  // the counted frames' hop times
};

// Bit-identical for any thread count.
LongTermSpectrum long_term_spectrum(const AudioBuffer& audio, cpu::ThreadPool& pool);

// The spectrum's power smoothed over `octaves` around each of `freqs_hz`, in dB.
std::vector<double> smoothed_db(const LongTermSpectrum& s, const std::vector<double>& freqs_hz, double octaves);

// The 1/24-octave grid from 20 Hz to min(20 kHz, 0.45 fs).
std::vector<double> match_grid(double sample_rate);

// The least reference a match reads: this many seconds of frames that pass the gates.
inline constexpr double kMinMatchSeconds = 3.0;

struct MatchResult {
  EqBand band;                   // a curve band; neutral (every gain 0) with amount 0
  nlohmann::json report;         // the report's master.match entry
  double reference_lufs = -HUGE_VAL;  // the reference's integrated loudness (-inf: undefined)
};

// The match of `mix` (the master bus before its EQ, at its processing rate) to the spec's
// reference, read and converted to that rate. Throws UserError naming the reference when it cannot
// be read, is silent or has less than kMinMatchSeconds above the gates. A mix with too little above
// the gates gets a neutral band and a warning in `warnings`.
MatchResult match_reference(const MatchSpec& spec, const AudioBuffer& mix, cpu::ThreadPool& pool,
                            nlohmann::json& warnings);

}  // namespace lq
