// Parameters of the dynamics processors, as value structs with units in their names.
// Validated at session load (host/session.cpp); the processors may assume valid values.
#pragma once

namespace lq::dsp {

// Feed-forward compressor (Giannoulis, Massberg & Reiss, JAES 60(6) 2012): level detector in dB,
// soft-knee static curve, branching attack/release smoother on the gain in dB.
struct CompressorParams {
  double threshold_db = -18.0;  // [-80, 0]
  double ratio = 4.0;           // [1, 100]; 1 = no compression
  double knee_db = 6.0;         // [0, 24]: width of the quadratic knee around the threshold
  double attack_ms = 10.0;      // [0.01, 1000]: time constant, 1 - 1/e of a step (see dynamics.hpp)
  double release_ms = 100.0;    // [1, 10000]: time constant, as attack
  double makeup_db = 0.0;       // [-24, 48]; ignored when auto_makeup
  bool auto_makeup = false;     // makeup = the static curve's reduction at 0 dBFS / 2
  double stereo_link = 1.0;     // [0, 1]: 1 = one gain for all channels (max of their levels)
  double lookahead_ms = 0.0;    // [0, 20]: the gain is applied this much earlier (latency compensated)
  // What the static curve reads: the per-sample magnitude (peak), or the RMS over the last rms_ms
  // (a sine reads 3.01 dB under its peak, a square at its peak).
  bool rms_detector = false;
  double rms_ms = 10.0;         // [0.1, 1000]: the RMS window, with rms_detector
};

// Look-ahead true-peak limiter (docs/algorithms.md "The limiter").
struct LimiterParams {
  double ceiling_dbtp = -1.0;   // [-20, 0]: output true peak (BS.1770-4 Annex 2) never above
  double lookahead_ms = 5.0;    // [0.5, 20]
  double release_ms = 80.0;     // [1, 2000]: time constant of the exponential release
};

}  // namespace lq::dsp
