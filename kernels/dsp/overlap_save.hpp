// Overlap-save geometry shared by the CPU (FFTW) and CUDA (cuFFT) convolvers, so that both cut a
// signal into the same frames (Oppenheim & Schafer, "Discrete-Time Signal Processing", 3rd ed.,
// 8.7.3). A filter of L taps runs at FFT size K = convolver_fft_size(L); output segment s covers
// y[s*hop, s*hop + hop), hop = K - L + 1, and its frame is the K input samples starting at
// offset + s*hop - (L-1) (zero outside the input); frame samples L-1 .. K-1 are the linear
// convolution's outputs.
#pragma once

#include "kernels/dsp/common.hpp"

namespace lq::dsp {

// The FFT size K for a filter of length L: a power of two, at least 2^12; 8-16 L up to K = 2^17,
// 4-8 L beyond (2^20 for a 3 s IR at 48 kHz). A constant of the algorithm, never tuned at run time
// (K changes rounding). Why these sizes: kernels/cpu/convolver.cpp.
LQ_HD int64_t convolver_fft_size(int64_t filter_length) {
  const int64_t l = filter_length < 1 ? 1 : filter_length;
  constexpr int64_t cache_limit = int64_t{1} << 17;
  int64_t k = int64_t{1} << 12;
  while (k < 8 * l && k < cache_limit) k *= 2;
  if (k < 8 * l) {
    while (k < 4 * l) k *= 2;
  }
  return k;
}

struct OverlapSave {
  int64_t k;    // FFT size
  int64_t l;    // filter length
  int64_t hop;  // output samples per frame: k - l + 1

  LQ_HD int64_t segments(int64_t n_out) const { return (n_out + hop - 1) / hop; }
  // Input index of frame sample 0 for segment s.
  LQ_HD int64_t frame_start(int64_t offset, int64_t s) const { return offset + s * hop - (l - 1); }

  // The GPU's batched form: a problem of C channels x S segments is C*S frames, frame f being
  // channel f / S, segment f % S; channels are rows of n_in (input) and n_out (output) samples.
  // Sample i of frame f (0 outside the input, and for f >= C*S: the padding of a last batch).
  LQ_HD float frame_sample(const float* x, int64_t n_in, int64_t offset, int64_t segments, int64_t frames,
                           int64_t f, int64_t i) const {
    if (f >= frames) return 0.0f;
    const int64_t ch = f / segments, src = frame_start(offset, f % segments) + i;
    return src >= 0 && src < n_in ? x[ch * n_in + src] : 0.0f;
  }
  // Where output j (0 <= j < hop) of frame f goes in the channel-major output: its index, or -1
  // past the end of its channel (or for padding frames). Its value is frame sample l - 1 + j.
  LQ_HD int64_t output_index(int64_t n_out, int64_t segments, int64_t frames, int64_t f, int64_t j) const {
    if (f >= frames) return -1;
    const int64_t ch = f / segments, out = (f % segments) * hop + j;
    return out < n_out ? ch * n_out + out : -1;
  }
};

LQ_HD OverlapSave overlap_save_for(int64_t filter_length) {
  const int64_t k = convolver_fft_size(filter_length);
  return OverlapSave{k, filter_length, k - filter_length + 1};
}

}  // namespace lq::dsp
