// TPDF dither and quantisation to an integer output grid (docs/algorithms.md "Dither").
//
// The noise is a pure function of (seed, channel, frame): a counter-based generator with no
// state, so the CPU and the GPU produce the same bits whatever the scheduling or block split.
// Generator: SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
// OOPSLA 2014; finaliser "Mix13" of D. Stafford). Per (seed, channel) a start state is hashed;
// frame f then reads element f of the SplitMix64 stream from that state (state + f * gamma,
// mixed), so each channel's noise is exactly a SplitMix64 sequence. The 64 output bits give two
// independent uniforms in [-0.5, 0.5) LSB; their sum is triangular on [-1, 1) LSB (TPDF), which
// makes the first two moments of the total error independent of the signal (Wannamaker,
// Lipshitz & Vanderkooy, "A theory of nonsubtractive dither", IEEE TSP 48(2), 2000). Total error
// power with rounding: LSB^2/12 + LSB^2/6 = LSB^2/4, i.e. -6.02*bits dB re full scale.
#pragma once

#include "kernels/dsp/common.hpp"

namespace lq::dsp {

inline constexpr uint64_t kSplitMixGamma = 0x9E3779B97F4A7C15ull;

// SplitMix64's output function (Stafford Mix13): a bijection on 64 bits with full avalanche.
LQ_HD uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The start state of the (seed, channel) stream.
LQ_HD uint64_t dither_stream(uint64_t seed, int channel) {
  const uint64_t state = splitmix64_mix(seed ^ kSplitMixGamma);
  return splitmix64_mix(state ^ (static_cast<uint64_t>(static_cast<uint32_t>(channel)) * 0xD1B54A32D192ED03ull));
}

// 64 random bits for a frame of the stream that starts at `stream`.
LQ_HD uint64_t dither_bits_at(uint64_t stream, int64_t frame) {
  return splitmix64_mix(stream + (static_cast<uint64_t>(frame) + 1u) * kSplitMixGamma);
}

// 64 random bits for (seed, channel, frame).
LQ_HD uint64_t dither_bits(uint64_t seed, int channel, int64_t frame) {
  return dither_bits_at(dither_stream(seed, channel), frame);
}

// TPDF dither in LSB units, in [-1, 1) from 64 random bits: the sum of two uniforms in
// [-0.5, 0.5). Exact in double (two 32-bit integers scaled by 2^-32).
LQ_HD double tpdf_from_bits(uint64_t r) {
  const double u1 = static_cast<double>(static_cast<uint32_t>(r >> 32));
  const double u2 = static_cast<double>(static_cast<uint32_t>(r));
  return (u1 + u2) * 2.3283064365386963e-10 - 1.0;  // 2^-32
}

// TPDF dither in LSB units for (seed, channel, frame).
LQ_HD double tpdf_dither_lsb(uint64_t seed, int channel, int64_t frame) {
  return tpdf_from_bits(dither_bits(seed, channel, frame));
}

// Integer code of x (full scale +-1.0) on a `bits`-bit grid (2 <= bits <= 31): round
// (x * 2^(bits-1) + dither_lsb) to the nearest integer (halves up) and clamp to
// [-2^(bits-1), 2^(bits-1) - 1]: saturates, never wraps. NaN gives 0.
LQ_HD int32_t quantize_to_code(float x, int bits, double dither_lsb) {
  const double scale = static_cast<double>(int64_t{1} << (bits - 1));
  const double lo = -scale;
  const double hi = scale - 1.0;
  double v = static_cast<double>(x) * scale + dither_lsb;
  if (v != v) return 0;
  v = ::floor(v + 0.5);
  v = v > hi ? hi : v;
  v = v < lo ? lo : v;
  return static_cast<int32_t>(v);
}

// The value of an integer code as float full scale (exact for bits <= 24).
LQ_HD float code_to_float(int32_t code, int bits) {
  return static_cast<float>(static_cast<double>(code) / static_cast<double>(int64_t{1} << (bits - 1)));
}

}  // namespace lq::dsp
