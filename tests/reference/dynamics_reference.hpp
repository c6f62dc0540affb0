// Independent float64 references of the dynamics processors (tests only), written from the
// textbook definitions with plain loops, no chunking, no snapping, no fixed point:
//  - compressor: Giannoulis, Massberg & Reiss, JAES 60(6) 2012 — peak level in dB, soft-knee static
//    curve (eq. 4), branching one-pole smoother on the gain reduction (eq. 17) with
//    alpha = exp(-1 / (tau fs)); stereo link as a blend of own and max-of-channels levels in dB;
//    look-ahead as reading the gain W frames later; makeup (or auto makeup: half the reduction at
//    0 dBFS).
//  - limiter, one pass (gpu-design.md 4.2): required gain from the BS.1770-4 Annex 2 meter
//    (dsp::true_peak_at, the one meter), brute-force window minimum over the support and look-ahead,
//    instant attack / exponential release, brute-force box average clamped to the support minimum.
#pragma once

#include <vector>

#include "kernels/dsp/dynamics_params.hpp"

namespace lq::test {

// Gain reduction x - y_G (dB) of the static curve at input level x_db.
double static_gain_reduction_db(double x_db, double threshold_db, double ratio, double knee_db);

// Linear gain applied to every channel and frame: gains[c][i], output = x[c][i] * gains[c][i].
std::vector<std::vector<double>> compressor_gains(const std::vector<std::vector<float>>& x, double fs,
                                                  const dsp::CompressorParams& p);

// Linear gain of the limiter's first pass per frame (one gain for all channels).
std::vector<double> limiter_first_pass_gain(const std::vector<std::vector<float>>& x, double fs,
                                            const dsp::LimiterParams& p);

}  // namespace lq::test
