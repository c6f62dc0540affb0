// Independent float64 references of the dynamics processors (tests only), written from the
// textbook definitions with plain loops, no chunking, no snapping, no fixed point:
//  - compressor: Giannoulis, Massberg & Reiss, JAES 60(6) 2012 — peak level in dB, soft-knee static
//    curve (eq. 4), branching one-pole smoother on the gain reduction (eq. 17) with
//    alpha = exp(-1 / (tau fs)); stereo link as a blend of own and max-of-channels levels in dB;
//    look-ahead as reading the gain W frames later; makeup (or auto makeup: half the reduction at
//    0 dBFS).
//  - limiter, one pass (docs/algorithms.md "The limiter"): required gain from the limiter's detector (the
//    BS.1770-4 Annex 2 meter dsp::true_peak_at, and the 4x sincs of dsp::sinc_taps summed directly
//    in double here, where the CPU limiter uses FFTs), brute-force window minimum over the support and
//    look-ahead, instant attack / exponential release, brute-force box average clamped to the
//    support minimum.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/dsp/dynamics_params.hpp"

namespace lq::test {

// Gain reduction x - y_G (dB) of the static curve at input level x_db.
double static_gain_reduction_db(double x_db, double threshold_db, double ratio, double knee_db);

// Linear gain applied to every channel and frame: gains[c][i], output = x[c][i] * gains[c][i].
std::vector<std::vector<double>> compressor_gains(const std::vector<std::vector<float>>& x, double fs,
                                                  const dsp::CompressorParams& p);

// The limiter's detector at position pos in [0, n + dsp::kLimiterSupport - 1), max over channels:
// Annex 2 (0 past n + 10) and |sum_t h_p[t] x[pos - t]| for every sinc filter's three phases, in
// double.
double limiter_detector_reading(const std::vector<std::vector<float>>& x, int64_t pos);

// Linear gain of the limiter's first pass per frame (one gain for all channels): readings over the
// ceiling are brought to ceiling * target_ratio, readings at or under it ask for nothing.
std::vector<double> limiter_first_pass_gain(const std::vector<std::vector<float>>& x, double fs,
                                            const dsp::LimiterParams& p, double target_ratio);

}  // namespace lq::test
