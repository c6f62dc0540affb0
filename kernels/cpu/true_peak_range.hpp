// The true-peak meter's scan over a range of positions on the CPU: dsp::true_peak_at
// (kernels/dsp/true_peak.hpp, BS.1770-4 Annex 2) for every n, the same bits, vectorised.
#pragma once

#include <cstdint>

namespace lq::cpu {

// out[n - begin] = dsp::true_peak_at(x, len, n) for n in [begin, end), bit for bit: the same
// products summed in the same order, eight positions at a time in vector registers. Built for
// AVX-512, AVX2 and baseline x86-64 (chosen at run time; no FMA contraction, so every version gives
// the same bits); only the edges take the checked path.
void true_peak_range(const float* x, int64_t len, int64_t begin, int64_t end, double* out);

// The largest |x[i]| for i < n, 0 for n = 0; NaN is passed over, as std::max passes it over.
// Vectorised (max is exact in any order: the same value as the plain loop).
float sample_peak(const float* x, int64_t n);

// The largest of n readings >= 0 (true peaks, magnitudes), 0 for n = 0: std::max_element's value,
// vectorised.
double max_reading(const double* x, int64_t n);

}  // namespace lq::cpu
