// Independent float64 references for the convolver (tests only).
//
// Both compute y[k] = sum_j h[j] x[offset + k - j], k in [0, n_out), x = 0 outside [0, n_in): the
// Convolver's contract. direct_convolution is the naive O(n_out L) sum; fft_convolution_f64 is one
// double-precision FFTW transform of the whole linear convolution (no blocks, no float
// arithmetic anywhere), for filters too long for the naive sum. Both take the float data as exact.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lq::test {

std::vector<double> direct_convolution(std::span<const float> x, std::span<const float> h, int64_t offset,
                                       int64_t n_out);

// One output sample of the naive sum (spot checks of long cases).
double direct_convolution_at(std::span<const float> x, std::span<const float> h, int64_t offset, int64_t k);

// The full linear convolution x * h (length x.size() + h.size() - 1) by one real FFT
// of size >= that length, in double. Slice it for any (offset, n_out): y[k] = full[offset + k].
std::vector<double> fft_convolution_f64(std::span<const float> x, std::span<const float> h);

}  // namespace lq::test
