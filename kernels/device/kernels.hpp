// The device render's kernels: each is a small struct of arguments (device pointers and values)
// whose LQ_HD `operator()(i)` is the body for index i of its launch. The CUDA executor runs a body
// per GPU thread (kernels/cuda/cuda_device.cu: one templated __global__ wrapper); the host executor
// calls the same body in a loop (kernels/device/host_device.cpp). The list of kernels is the
// variant `Kernel` at the end: adding a kernel is adding a struct there.
//
// Contract of every body: index i writes only its own outputs and reads nothing another index of
// the same launch writes, so the result does not depend on the order or the parallelism of the
// calls. No atomics, no shared memory: a reduction is a launch over fixed blocks (one index per
// block, reduced in index order), then a smaller launch or the host.
#pragma once

#include <cstdint>
#include <type_traits>
#include <variant>

#include "kernels/dsp/biquad_chunks.hpp"
#include "kernels/dsp/common.hpp"
#include "kernels/dsp/dynamics.hpp"
#include "kernels/dsp/k_weighting.hpp"
#include "kernels/dsp/overlap_save.hpp"
#include "kernels/dsp/recurrence.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::dev {

// A complex bin as cuFFT (cufftComplex) and FFTW (fftwf_complex) store it: re, im.
struct Complex {
  float re, im;
};
struct DoubleComplex {
  double re, im;
};

// ---- convolution (overlap-save; geometry in kernels/dsp/overlap_save.hpp) ----------------------

// frames[t] = sample t % k of frame first + t / k of the channels x segments problem; n = batch k.
struct GatherFrames {
  const float* x;
  int64_t n_in, offset;
  dsp::OverlapSave os;
  int64_t segments, total_frames, first;
  float* frames;
  LQ_HD void operator()(int64_t t) const {
    frames[t] = os.frame_sample(x, n_in, offset, segments, total_frames, first + t / os.k, t % os.k);
  }
};

// bins[t] *= the spectrum of frame (first + t / bins_per_frame)'s channel; n = batch bins_per_frame.
// The product is written as the CPU convolver writes it.
struct MultiplySpectra {
  Complex* bins;
  const Complex* spectra;
  const int* filter_of_channel;
  int64_t bins_per_frame, segments, total_frames, first;
  LQ_HD void operator()(int64_t t) const {
    const int64_t f = first + t / bins_per_frame, k = t % bins_per_frame;
    if (f >= total_frames) return;
    const Complex h = spectra[int64_t(filter_of_channel[f / segments]) * bins_per_frame + k];
    const Complex x = bins[t];
    bins[t] = Complex{x.re * h.re - x.im * h.im, x.re * h.im + x.im * h.re};
  }
};

// The valid outputs of each frame (samples l - 1 .. k - 1) to their place; n = batch hop.
struct ScatterOutputs {
  const float* frames;
  dsp::OverlapSave os;
  int64_t segments, total_frames, first, n_out;
  float* y;
  LQ_HD void operator()(int64_t t) const {
    const int64_t b = t / os.hop, j = t % os.hop;
    const int64_t out = os.output_index(n_out, segments, total_frames, first + b, j);
    if (out >= 0) y[out] = frames[b * os.k + (os.l - 1) + j];
  }
};

// out[t] = float(in[t] * scale): a filter's float64 spectrum with 1/K folded in, rounded once.
struct ScaleToFloat {
  const DoubleComplex* in;
  double scale;
  Complex* out;
  LQ_HD void operator()(int64_t t) const {
    out[t] = Complex{static_cast<float>(in[t].re * scale), static_cast<float>(in[t].im * scale)};
  }
};

// out[i] = in[i] widened to float64 for i < l, 0 after: a filter's taps padded to its FFT size; n = K.
struct WidenPadded {
  const float* in;
  int64_t l;
  double* out;
  LQ_HD void operator()(int64_t i) const { out[i] = i < l ? double(in[i]) : 0.0; }
};

// One-tap filters: y[ch][k] = h[ch] x[ch][offset + k] (0 outside the input); n = channels n_out.
struct ScaleChannels {
  const float* x;
  int64_t n_in, offset, n_out;
  const float* h;
  float* y;
  LQ_HD void operator()(int64_t t) const {
    const int64_t ch = t / n_out, k = t % n_out, src = offset + k;
    y[t] = src >= 0 && src < n_in ? h[ch] * x[ch * n_in + src] : 0.0f;
  }
};

// ---- peaks ------------------------------------------------------------------------------------

// profile[n] = max over channels of dsp::true_peak_at (BS.1770-4 Annex 2) at position n of planar
// x (channels rows of `frames`); n < frames + 11.
struct TruePeakProfile {
  const float* x;
  int channels;
  int64_t frames;
  double* profile;
  LQ_HD void operator()(int64_t n) const {
    double m = 0.0;
    for (int c = 0; c < channels; ++c) {
      const double v = dsp::true_peak_at(x + int64_t(c) * frames, frames, n);
      m = v > m ? v : m;
    }
    profile[n] = m;
  }
};

// out[b] = max |v[i]| over block b of `block` values (the last block may be short; 0 for an
// empty one), kept in T and widened once; NaN when a value is NaN (so a reduction of maxima tells
// a signal that is not finite); n = blocks. T = float: the sample peak; T = double: the maxima of
// non-negative readings (|v| = v).
template <class T>
struct MaxAbsBlocks {
  const T* v;
  int64_t count, block;
  double* out;
  LQ_HD void operator()(int64_t b) const {
    T m = 0;
    const int64_t end = (b + 1) * block < count ? (b + 1) * block : count;
    for (int64_t i = b * block; i < end; ++i) {
      const T a = v[i] < T(0) ? -v[i] : v[i];
      m = (a > m || a != a) ? a : m;  // once NaN, stays NaN
    }
    out[b] = double(m);
  }
};

// ---- K-weighting (the meter; math in kernels/dsp/biquad_chunks.hpp) -------------------------
// Over (row, chunk) pairs t = row * chunks + chunk, rows of `frames` values, chunks of `chunk`.

struct ChunkLayout {
  int64_t frames, chunk, chunks;
  int rows;
  LQ_HD int64_t begin(int64_t t) const { return (t % chunks) * chunk; }
  LQ_HD int64_t end(int64_t t) const { return begin(t) + chunk < frames ? begin(t) + chunk : frames; }
};

// Phase 1: the end state of each chunk run from zero state. Row j reads input row rows[j] (or j
// when `rows` is null). n = rows chunks.
template <class In>
struct BiquadZeroStateEnds {
  const In* in;
  const int* rows;
  ChunkLayout L;
  dsp::BiquadCoefficients c;
  double* ends;  // 2 per (row, chunk)
  LQ_HD void operator()(int64_t t) const {
    const int64_t j = t / L.chunks;
    const In* x = in + int64_t(rows ? rows[j] : int(j)) * L.frames;
    const double zero[2] = {0.0, 0.0};
    dsp::biquad_end_state(dsp::BiquadRecurrence<In>{x, 0, c, {0.0, 0.0}}, L.begin(t), L.end(t), zero, ends + 2 * t);
  }
};

// Phase 2 on the device: one index per row walks its chunks in order (2x2 products, no host
// round trip). m: dsp::biquad_homogeneous_matrix of a whole chunk. n = rows.
struct BiquadCarry {
  const double* ends;
  ChunkLayout L;
  double m[4];
  double* starts;  // 2 per (row, chunk)
  LQ_HD void operator()(int64_t j) const {
    const double init[2] = {0.0, 0.0};
    dsp::biquad_carry(m, ends + 2 * j * L.chunks, L.chunks, init, starts + 2 * j * L.chunks);
  }
};

// Phase 3 of the shelf: its output (float64) over each chunk from the chunk's true start state.
struct ShelfOutput {
  const float* in;
  const int* rows;
  ChunkLayout L;
  dsp::BiquadCoefficients c;
  const double* starts;
  double* u;
  LQ_HD void operator()(int64_t t) const {
    const int64_t j = t / L.chunks;
    dsp::run_from_state(dsp::BiquadRecurrence<float>{in + int64_t(rows[j]) * L.frames, 0, c, {0.0, 0.0}},
                        u + j * L.frames, L.begin(t), L.end(t), starts + 2 * t);
  }
};

// Phase 3 of the high-pass: its squared output summed per segment, each segment by one index in
// index order (every segment lies inside one chunk).
struct HighpassSegmentEnergies {
  const double* u;
  ChunkLayout L;
  dsp::BiquadCoefficients c;
  const double* starts;
  int64_t segment, segments;
  double* energies;  // segments per row
  LQ_HD void operator()(int64_t t) const {
    const int64_t j = t / L.chunks;
    dsp::biquad_segment_energies(dsp::BiquadRecurrence<double>{u + j * L.frames, 0, c, {0.0, 0.0}}, L.begin(t),
                                 L.end(t), starts + 2 * t, segment, segments * segment, energies + j * segments);
  }
};

// ---- recurrences (kernels/dsp/recurrence.hpp) ------------------------------------------------
// y = the recurrence R over [0, n) in chunks: speculation (one index per chunk, each from its
// guessed state), then one walk (one index) that re-runs each chunk from its predecessor's final
// state until the trajectories meet. Bit for bit the sequential loop; no host round trip.

template <class R>
struct SpeculateChunks {
  R rec;
  typename R::Value* y;
  int64_t n, chunk;
  LQ_HD void operator()(int64_t c) const {
    const int64_t e = (c + 1) * chunk < n ? (c + 1) * chunk : n;
    dsp::speculate_chunk(rec, y, c * chunk, e);
  }
};

template <class R>
struct WalkChunks {
  R rec;
  typename R::Value* y;
  int64_t n, chunk;
  LQ_HD void operator()(int64_t) const {
    for (int64_t b = chunk; b < n; b += chunk) dsp::fixup_chunk(rec, y, b, b + chunk < n ? b + chunk : n);
  }
};

// ---- compressor (kernels/dsp/dynamics.hpp; the CPU's form in kernels/cpu/compressor.cpp) ------

// gr[d][i]: the static curve's gain reduction of detector d at frame i (dsp::curve_reductions over
// the largest |x| of the frame and each channel's sample). n = frames.
struct CompressorCurve {
  const float* x;
  int channels;
  int64_t n;
  int detectors;
  dsp::CompressorCoefficients k;
  float* gr;
  LQ_HD void operator()(int64_t i) const {
    float m = 0.0f;
    for (int c = 0; c < channels; ++c) {
      const float v = x[int64_t(c) * n + i];
      const float a = v < 0.0f ? -v : v;
      m = m < a ? a : m;
    }
    dsp::curve_reductions(
        m, detectors, k, [&](int d) { return x[int64_t(d) * n + i]; },
        [&](int d, float r) { gr[int64_t(d) * n + i] = r; });
  }
};

// gain[i] = compressor_gain(smoothed[min(n - 1, i + lookahead)]). n = frames.
struct CompressorGain {
  const float* smoothed;
  int64_t n, lookahead;
  double makeup_db;
  float* gain;
  LQ_HD void operator()(int64_t i) const {
    const int64_t j = i + lookahead < n - 1 ? i + lookahead : n - 1;
    gain[i] = dsp::compressor_gain(smoothed[j], makeup_db);
  }
};

// Per block of `block` frames: dsp::ReductionStats's largest and sum, in its order. n = blocks.
struct ReductionStatsBlocks {
  const float* v;
  int64_t n, block;
  double* block_max;
  double* block_sum;
  LQ_HD void operator()(int64_t b) const {
    const int64_t e = (b + 1) * block < n ? (b + 1) * block : n;
    dsp::ReductionStats st;
    st.add(v + b * block, b * block, e - b * block);
    block_max[b] = st.max;
    block_sum[b] = st.sum();
  }
};

// x[c][i] *= gain[d(c)][i]. n = channels frames.
struct CompressorApply {
  float* x;
  int64_t n;
  int detectors;
  const float* gain;
  LQ_HD void operator()(int64_t t) const {
    const int64_t c = t / n, i = t % n;
    x[t] *= gain[(detectors == 1 ? 0 : c) * n + i];
  }
};

// ---- limiter (kernels/cpu/limiter.cpp gives the algorithm) ------------------------------------

// The limiter's detector at position n (n < frames + 127): the largest over channels of Annex 2's
// reading and every phase of every sinc of dsp::sinc_taps, summed directly (the CPU sums the sincs
// by FFT: the two agree to about 1e-6). taps: dsp::sinc_taps's array, flattened.
struct LimiterProfile {
  const float* x;
  int channels;
  int64_t frames;
  const float* taps;
  double* profile;
  LQ_HD void operator()(int64_t n) const {
    double m = 0.0;
    for (int c = 0; c < channels; ++c) {
      const float* xc = x + int64_t(c) * frames;
      if (n < frames + dsp::kTruePeakTapsPerPhase - 1) {
        const double v = dsp::true_peak_at(xc, frames, n);
        m = v > m ? v : m;
      }
      for (int f = 0; f < dsp::kSincFilterCount; ++f) {
        const int len = 2 * dsp::sinc_filter(f).half_width;
        for (int p = 0; p < dsp::kSincPhases; ++p) {
          const float* h = taps + (f * dsp::kSincPhases + p) * dsp::kSincMaxTaps;
          double acc = 0.0;
          for (int t = 0; t < len; ++t) {
            const int64_t i = n - t;
            if (i >= 0 && i < frames) acc += double(h[t]) * double(xc[i]);
          }
          const double v = acc < 0.0 ? -acc : acc;
          m = v > m ? v : m;
        }
      }
    }
    profile[n] = m;
  }
};

// peak[i] = dsp::required_gain(peak[i], ceiling, target), in place.
struct RequiredGain {
  double* peak;
  double ceiling, target;
  LQ_HD void operator()(int64_t i) const { peak[i] = dsp::required_gain(peak[i], ceiling, target); }
};

// out[i] = the minimum of in over [i, i + w) (within in_n). n = outputs.
struct WindowMin {
  const double* in;
  int64_t in_n, w;
  double* out;
  LQ_HD void operator()(int64_t i) const { out[i] = dsp::window_min_at(in, in_n, w, i); }
};

// f[m] = dsp::box_average_at(g, w, scale, support[m], m): the smoothed gain, capped by the support
// minimum. n = frames.
struct BoxAverage {
  const double* g;
  int64_t w;
  double scale;
  const double* support;
  double* f;
  LQ_HD void operator()(int64_t m) const { f[m] = dsp::box_average_at(g, w, scale, support[m], m); }
};

// x[c][m] = x[c][m] f[m] in double where f[m] < 1 (others keep their bits), and total[m] likewise
// once. n = channels frames.
struct LimiterApply {
  float* x;
  int64_t n;
  const double* f;
  float* total;
  LQ_HD void operator()(int64_t t) const {
    const int64_t c = t / n, m = t % n;
    const double fm = f[m];
    if (fm < 1.0) {
      x[t] = static_cast<float>(double(x[t]) * fm);
      if (c == 0) total[m] = static_cast<float>(double(total[m]) * fm);
    }
  }
};

// peak[i] = ceiling margin / peak[i] where over the ceiling, else 1: the hard safety's factors.
struct OverFactor {
  double* peak;
  double ceiling, margin;
  LQ_HD void operator()(int64_t i) const { peak[i] = peak[i] > ceiling ? ceiling * margin / peak[i] : 1.0; }
};

template <class T>
struct Fill {
  T* p;
  T v;
  LQ_HD void operator()(int64_t i) const { p[i] = v; }
};

// Per block: the largest and the in-order sum of -20 log10 of the limiter's total gain. n = blocks.
struct TotalReductionBlocks {
  const float* total;
  int64_t n, block;
  double* block_max;
  double* block_sum;
  LQ_HD void operator()(int64_t b) const {
    double mx = 0.0, sum = 0.0;
    const int64_t e = (b + 1) * block < n ? (b + 1) * block : n;
    for (int64_t i = b * block; i < e; ++i) {
      const double r = total[i] < 1.0f ? -dsp::linear_to_db(double(total[i])) : 0.0;
      mx = mx < r ? r : mx;
      sum += r;
    }
    block_max[b] = mx;
    block_sum[b] = sum;
  }
};

// ---- the mix (host/device_render.cpp; the host's forms in host/mixing.cpp) ---------------------

// A stem to its stereo bus: out row c (of out_frames) = gain_c * in row (in_rows == 1 ? 0 : c)
// (in_frames each; silence past them), the float products of to_stereo_into; n = 2 out_frames.
struct PanGain {
  const float* in;
  int in_rows;
  int64_t in_frames, out_frames;
  float gain_left, gain_right;
  float* out;
  LQ_HD void operator()(int64_t t) const {
    const int64_t c = t / out_frames, i = t % out_frames;
    const float v = i < in_frames ? in[(in_rows == 1 ? 0 : c) * in_frames + i] : 0.0f;
    out[t] = (c == 0 ? gain_left : gain_right) * v;
  }
};

// dst row c frame at + i += gain * src row c frame i, for `rows` rows and i < frames (dst rows of
// dst_frames, src rows of src_frames): accumulate's sum (d + s at gain 1); n = rows frames.
struct AddScaled {
  float* dst;
  int64_t dst_frames, at;
  const float* src;
  int64_t src_frames, frames;
  float gain;
  LQ_HD void operator()(int64_t t) const {
    const int64_t c = t / frames, i = t % frames;
    const float s = src[c * src_frames + i];
    float& d = dst[c * dst_frames + at + i];
    d = gain == 1.0f ? d + s : d + gain * s;
  }
};

// x[t] *= g (apply_gain); n = the values.
struct Scale {
  float* x;
  float g;
  LQ_HD void operator()(int64_t t) const { x[t] *= g; }
};

// Mid/side width on a stereo pair of rows of n frames (apply_width); n = frames.
struct Width {
  float* x;
  int64_t n;
  float w;
  LQ_HD void operator()(int64_t i) const {
    float& l = x[i];
    float& r = x[n + i];
    const float m = 0.5f * (l + r);
    const float s = w * (0.5f * (l - r));
    l = m + s;
    r = m - s;
  }
};

// Per block of `block` frames from `from` (count frames in all): the last frame index (absolute)
// where any of the rows (of `frames` each) is above `floor` in magnitude, or -1; n = blocks.
struct LastAboveBlocks {
  const float* x;
  int rows;
  int64_t frames, from, count, block;
  float floor;
  int64_t* out;
  LQ_HD void operator()(int64_t b) const {
    int64_t last = -1;
    const int64_t e = (b + 1) * block < count ? (b + 1) * block : count;
    for (int64_t i = b * block; i < e; ++i) {
      for (int c = 0; c < rows; ++c) {
        const float v = x[c * frames + from + i];
        if ((v < 0.0f ? -v : v) > floor) last = from + i;
      }
    }
    out[b] = last;
  }
};

// The raised-cosine fade of trim_tail over frames [end - fade, end) of every row (rows of
// `frames`): frame end - fade + k times float(0.5 (1 + cos(pi (k + 1) / fade))); n = rows fade.
struct TailFade {
  float* x;
  int64_t frames, end, fade;
  LQ_HD void operator()(int64_t t) const {
    const int64_t c = t / fade, k = t % fade;
    const double w = 0.5 * (1.0 + ::cos(3.14159265358979323846 * double(k + 1) / double(fade)));
    x[c * frames + end - fade + k] *= static_cast<float>(w);
  }
};

// Every kernel the device render launches.
using Kernel = std::variant<GatherFrames, MultiplySpectra, ScatterOutputs, ScaleToFloat, ScaleChannels,
                            TruePeakProfile, MaxAbsBlocks<float>, MaxAbsBlocks<double>, BiquadZeroStateEnds<float>,
                            BiquadZeroStateEnds<double>, BiquadCarry, ShelfOutput, HighpassSegmentEnergies,
                            SpeculateChunks<dsp::GainSmoother>, WalkChunks<dsp::GainSmoother>,
                            SpeculateChunks<dsp::LimiterRelease>, WalkChunks<dsp::LimiterRelease>, CompressorCurve,
                            CompressorGain, ReductionStatsBlocks, CompressorApply, LimiterProfile, RequiredGain,
                            WindowMin, BoxAverage, LimiterApply, OverFactor, Fill<double>, Fill<float>,
                            TotalReductionBlocks, WidenPadded, PanGain, AddScaled, Scale, Width, LastAboveBlocks, TailFade>;

// The kernel's name in errors (the CUDA executor names the kernel whose launch failed).
inline const char* kernel_name(const Kernel& k) {
  static const char* const names[] = {"gather_frames",  "multiply_spectra",   "scatter_outputs",
                                      "scale_to_float", "scale_channels",     "true_peak_profile",
                                      "max_abs_blocks_f32", "max_abs_blocks_f64",         "biquad_zero_state_ends_f32",
                                      "biquad_zero_state_ends_f64", "biquad_carry", "shelf_output",
                                      "highpass_segment_energies", "speculate_gain_smoother", "walk_gain_smoother",
                                      "speculate_limiter_release", "walk_limiter_release", "compressor_curve",
                                      "compressor_gain", "reduction_stats_blocks", "compressor_apply",
                                      "limiter_profile", "required_gain", "window_min", "box_average",
                                      "limiter_apply", "over_factor", "fill_f64", "fill_f32",
                                      "total_reduction_blocks", "widen_padded", "pan_gain", "add_scaled", "scale", "width",
                                      "last_above_blocks", "tail_fade"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::variant_size_v<Kernel>, "a name per kernel");
  return names[k.index()];
}

// An estimate of the device memory a launch of n indices reads and writes (each array element
// once: neighbours that several indices read, filter taps and spectra are assumed cached), for
// the counters and the GPU-time estimate (benchmarks/gpu_estimate.py). Not a measurement.
inline int64_t bytes_touched(const Kernel& kernel, int64_t n) {
  return std::visit(
      [n](const auto& k) -> int64_t {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, GatherFrames> || std::is_same_v<K, ScatterOutputs> ||
                      std::is_same_v<K, ScaleChannels>) {
          return 8 * n;
        } else if constexpr (std::is_same_v<K, MultiplySpectra>) {
          return 16 * n;
        } else if constexpr (std::is_same_v<K, ScaleToFloat>) {
          return 24 * n;
        } else if constexpr (std::is_same_v<K, TruePeakProfile> || std::is_same_v<K, LimiterProfile>) {
          return (4 * int64_t(k.channels) + 8) * n;
        } else if constexpr (std::is_same_v<K, MaxAbsBlocks<float>> || std::is_same_v<K, MaxAbsBlocks<double>>) {
          return int64_t(sizeof(*k.v)) * k.count + 8 * n;
        } else if constexpr (std::is_same_v<K, ReductionStatsBlocks>) {
          return 4 * k.n + 16 * n;
        } else if constexpr (std::is_same_v<K, BiquadZeroStateEnds<float>>) {
          return 4 * k.L.frames * k.L.rows + 16 * n;
        } else if constexpr (std::is_same_v<K, BiquadZeroStateEnds<double>> ||
                             std::is_same_v<K, HighpassSegmentEnergies>) {
          return 8 * k.L.frames * k.L.rows + 16 * n;
        } else if constexpr (std::is_same_v<K, ShelfOutput>) {
          return 12 * k.L.frames * k.L.rows + 16 * n;
        } else if constexpr (std::is_same_v<K, BiquadCarry>) {
          return 32 * k.L.chunks * n;
        } else if constexpr (std::is_same_v<K, SpeculateChunks<dsp::GainSmoother>>) {
          return 8 * k.n;
        } else if constexpr (std::is_same_v<K, SpeculateChunks<dsp::LimiterRelease>>) {
          return 16 * k.n;
        } else if constexpr (std::is_same_v<K, WalkChunks<dsp::GainSmoother>> ||
                             std::is_same_v<K, WalkChunks<dsp::LimiterRelease>>) {
          return 0;  // the re-run prefixes: unknown here, short where trajectories meet early
        } else if constexpr (std::is_same_v<K, CompressorCurve>) {
          return (4 * int64_t(k.channels) + 4 * int64_t(k.detectors)) * n;
        } else if constexpr (std::is_same_v<K, CompressorGain> || std::is_same_v<K, WindowMin>) {
          return (std::is_same_v<K, WindowMin> ? 16 : 8) * n;
        } else if constexpr (std::is_same_v<K, CompressorApply> || std::is_same_v<K, OverFactor> ||
                             std::is_same_v<K, RequiredGain>) {
          return (std::is_same_v<K, CompressorApply> ? 12 : 16) * n;
        } else if constexpr (std::is_same_v<K, BoxAverage>) {
          return 24 * n;
        } else if constexpr (std::is_same_v<K, LimiterApply>) {
          return 16 * n;
        } else if constexpr (std::is_same_v<K, Fill<double>> || std::is_same_v<K, Fill<float>>) {
          return int64_t(sizeof(k.v)) * n;
        } else if constexpr (std::is_same_v<K, WidenPadded>) {
          return 8 * n + 4 * k.l;
        } else if constexpr (std::is_same_v<K, PanGain> || std::is_same_v<K, Scale>) {
          return 8 * n;
        } else if constexpr (std::is_same_v<K, AddScaled>) {
          return 12 * n;
        } else if constexpr (std::is_same_v<K, Width>) {
          return 16 * n;
        } else if constexpr (std::is_same_v<K, LastAboveBlocks>) {
          return 4 * int64_t(k.rows) * k.count + 8 * n;
        } else if constexpr (std::is_same_v<K, TailFade>) {
          return 8 * n;
        } else {
          static_assert(std::is_same_v<K, TotalReductionBlocks>, "every kernel has an estimate");
          return 4 * k.n + 16 * n;
        }
      },
      kernel);
}

}  // namespace lq::dev
