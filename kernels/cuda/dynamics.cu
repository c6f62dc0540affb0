// The compressor and the true-peak limiter on the GPU: Executor::compress, Executor::limit_true_peak.
//
// Math: kernels/dsp/dynamics.hpp, kernels/dsp/true_peak.hpp, kernels/dsp/recurrence.hpp, the same
// functions the CPU executors (kernels/cpu/compressor.cpp, limiter.cpp) call, in the same passes;
// those files' headers give the algorithm.
// Decomposition:
//  - maps (detector level and static curve, gain, application, required gain): one thread per frame;
//  - sliding minima (support, look-ahead) and the fixed-point box average: one thread per output,
//    reading its whole window (min and integer sums are exact, so the values equal the CPU's van
//    Herk / running-sum forms);
//  - recurrences (compressor smoother, limiter release): speculation, one thread per chunk, then
//    parallel fix-up rounds (dsp::refine_chunk from snapshots of the predecessors' end states) until a
//    round changes nothing: bit-identical to the sequential loop for any chunk length;
//  - statistics: one thread per fixed block of frames (the CPU's blocks) summing in the CPU's order
//    (the compressor's in dsp::ReductionStats's 8 lanes, the limiter's in index order), then the
//    blocks in order on the host.
// So the limiter's output equals the CPU backend's bit for bit (no libm in its path), and the
// compressor's differs only by the device's log10f/exp against glibc's (an ulp or two of the gain).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cuda/executor_impl.cuh"
#include "kernels/dsp/dynamics.hpp"
#include "kernels/dsp/recurrence.hpp"
#include "kernels/dsp/true_peak.hpp"

namespace lq::cuda {

namespace {

constexpr unsigned kThreads = 256;
constexpr long long kCompressorBlock = 1LL << 16;  // kernels/cpu/compressor.cpp kBlock
constexpr long long kLimiterBlock = 1LL << 15;     // kernels/cpu/limiter.cpp kBlock
constexpr long long kChunk = 1LL << 13;            // speculation chunk on the GPU: speed only
constexpr long long kSupport = dsp::kLimiterSupport;
constexpr int kMaxPasses = 4;       // as kernels/cpu/limiter.cpp
constexpr int kRegionRounds = 4;    // as kernels/cpu/limiter.cpp
constexpr double kMargin = 1.0 - 1e-6;

long long blocks_of(long long n, long long block) { return (n + block - 1) / block; }

// ---- recurrences ----------------------------------------------------------------------------

template <class R>
__global__ void speculate_kernel(R rec, typename R::Value* y, long long n, long long chunk) {
  const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  const long long chunks = (n + chunk - 1) / chunk;
  if (c >= chunks) return;
  dsp::speculate_chunk(rec, y, c * chunk, min(n, (c + 1) * chunk));
}

template <class R>
__global__ void snapshot_kernel(const typename R::Value* y, long long n, long long chunk, typename R::Value* ends) {
  const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  const long long chunks = (n + chunk - 1) / chunk;
  if (c + 1 >= chunks) return;
  dsp::chunk_end_state<R>(y, (c + 1) * chunk, ends + c * R::order);
}

template <class R>
__global__ void refine_kernel(R rec, typename R::Value* y, long long n, long long chunk,
                              const typename R::Value* ends, int* changed) {
  const long long c = 1 + blockIdx.x * (long long)blockDim.x + threadIdx.x;
  const long long chunks = (n + chunk - 1) / chunk;
  if (c >= chunks) return;
  if (dsp::refine_chunk(rec, y, c * chunk, min(n, (c + 1) * chunk), ends + (c - 1) * R::order)) *changed = 1;
}

// y = the recurrence over [0, n), bit-identical to the sequential loop. Returns the rounds it took.
template <class R>
int run_recurrence(const R& rec, typename R::Value* y, long long n, cudaStream_t s) {
  using V = typename R::Value;
  if (n <= 0) return 0;
  const long long chunks = (n + kChunk - 1) / kChunk;
  speculate_kernel<<<grid_for(chunks, 64), 64, 0, s>>>(rec, y, n, kChunk);
  LQ_CUDA_CHECK_LAUNCH();
  if (chunks == 1) return 0;
  DeviceBuffer<V> ends(size_t(chunks * R::order), s);
  DeviceBuffer<int> changed(1, s);
  int rounds = 0;
  for (;;) {
    ++rounds;
    changed.fill_zero();
    snapshot_kernel<R><<<grid_for(chunks, 64), 64, 0, s>>>(y, n, kChunk, ends.get());
    LQ_CUDA_CHECK_LAUNCH();
    refine_kernel<<<grid_for(chunks - 1, 64), 64, 0, s>>>(rec, y, n, kChunk, ends.get(), changed.get());
    LQ_CUDA_CHECK_LAUNCH();
    int h = 0;
    changed.download(&h, 1);
    LQ_CUDA_CHECK(cudaStreamSynchronize(s));
    if (h == 0 || rounds >= chunks) return rounds;  // chunk c is final after round c
  }
}

// ---- compressor -------------------------------------------------------------------------------

__global__ void compressor_curve_kernel(const float* x, int channels, long long n, int detectors,
                                        dsp::CompressorCoefficients k, float* gr) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  float m = 0.0f;
  for (int c = 0; c < channels; ++c) {
    const float a = fabsf(x[c * n + i]);
    m = m < a ? a : m;
  }
  const float linked = dsp::level_db(m);
  for (int d = 0; d < detectors; ++d) {
    const float level = detectors == 1 ? linked : dsp::linked_level_db(dsp::level_db(x[d * n + i]), linked, k.stereo_link);
    gr[d * n + i] = dsp::gain_reduction_db(level, k.threshold_db, k.ratio, k.knee_db);
  }
}

// gain[i] = compressor_gain(smoothed[min(n-1, i + lookahead)]), in place over gr's row.
__global__ void compressor_gain_kernel(const float* smoothed, long long n, long long lookahead, double makeup_db,
                                       float* gain) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  const long long j = i + lookahead < n - 1 ? i + lookahead : n - 1;
  gain[i] = dsp::compressor_gain(smoothed[j], makeup_db);
}

// Per block of the CPU's blocking: max and sum (index order) of figure(v[i]) (a reduction in dB).
template <class Figure>
__global__ void block_stats_kernel(const float* v, long long n, long long block, Figure figure, double* bmax,
                                   double* bsum) {
  const long long b = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (b * block >= n) return;
  double mx = 0.0, sum = 0.0;
  const long long e = (b + 1) * block < n ? (b + 1) * block : n;
  for (long long i = b * block; i < e; ++i) {
    const double x = figure(v[i]);
    mx = mx < x ? x : mx;
    sum += x;
  }
  bmax[b] = mx;
  bsum[b] = sum;
}

// The compressor's statistics per block of the CPU's blocking: dsp::ReductionStats, in its order.
__global__ void reduction_stats_kernel(const float* v, long long n, long long block, double* bmax, double* bsum) {
  const long long b = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (b * block >= n) return;
  const long long e = (b + 1) * block < n ? (b + 1) * block : n;
  dsp::ReductionStats st;
  st.add(v + b * block, b * block, e - b * block);
  bmax[b] = st.max;
  bsum[b] = st.sum();
}

// The limiter's figure: -20 log10 of its total gain.
struct TotalGainReduction {
  __device__ double operator()(float t) const { return t < 1.0f ? -dsp::linear_to_db(double(t)) : 0.0; }
};

__global__ void compressor_apply_kernel(float* x, int channels, long long n, int detectors, const float* gain) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= (long long)channels * n) return;
  const long long c = t / n, i = t % n;
  x[t] *= gain[(detectors == 1 ? 0 : c) * n + i];
}

// ---- limiter ----------------------------------------------------------------------------------

__global__ void required_gain_kernel(double* peak, long long n, double ceiling, double c) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) peak[i] = dsp::required_gain(peak[i], ceiling, c);
}

// out[i] = dsp::window_min_at(in, in_n, w, i).
__global__ void window_min_kernel(const double* in, long long in_n, long long w, double* out, long long out_n) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < out_n) out[i] = dsp::window_min_at(in, in_n, w, i);
}

// f[m] = dsp::box_average_at(g, w, scale, support[m], m).
__global__ void box_average_kernel(const double* g, long long n, long long w, double scale, const double* support,
                                   double* f) {
  const long long m = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (m < n) f[m] = dsp::box_average_at(g, w, scale, support[m], m);
}

// x[c][m] *= f[m] where f < 1 (through double, as the CPU), and total[m] likewise.
__global__ void limiter_apply_kernel(float* x, int channels, long long n, const double* f, float* total) {
  const long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (t >= (long long)channels * n) return;
  const long long c = t / n, m = t % n;
  const double fm = f[m];
  if (fm < 1.0) {
    x[t] = static_cast<float>(double(x[t]) * fm);
    if (c == 0 && total) total[m] = static_cast<float>(double(total[m]) * fm);
  }
}

__global__ void over_factor_kernel(double* peak, long long n, double ceiling) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) peak[i] = peak[i] > ceiling ? ceiling * kMargin / peak[i] : 1.0;
}

template <class T>
__global__ void fill_kernel(T* f, long long n, T v) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) f[i] = v;
}


// Max and in-order sum of per-block figures, on the host.
void reduce_blocks(const DeviceBuffer<double>& bmax, const DeviceBuffer<double>& bsum, cudaStream_t s, double& mx,
                   double& sum) {
  std::vector<double> hm(bmax.size()), hs(bsum.size());
  bmax.download(hm.data(), hm.size());
  bsum.download(hs.data(), hs.size());
  LQ_CUDA_CHECK(cudaStreamSynchronize(s));
  for (size_t j = 0; j < hm.size(); ++j) {
    mx = std::max(mx, hm[j]);
    sum += hs[j];
  }
}

}  // namespace

cpu::DynamicsStats Executor::compress(cpu::AudioBuffer& audio, const dsp::CompressorParams& params) {
  Impl& m = *impl_;
  const cudaStream_t s = m.s();
  const long long n = audio.frames();
  const int channels = audio.channel_count();
  cpu::DynamicsStats stats;
  if (n == 0 || channels == 0) return stats;
  const dsp::CompressorCoefficients k = dsp::prepare_compressor(params, audio.sample_rate);
  const int detectors = (k.stereo_link >= 1.0f || channels == 1) ? 1 : channels;

  DeviceAudio d = m.upload(audio);
  DeviceBuffer<float> gr(size_t(detectors) * size_t(n), s);
  DeviceBuffer<float> smoothed(size_t(n), s);
  compressor_curve_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(d.data.get(), channels, n, detectors, k, gr.get());
  LQ_CUDA_CHECK_LAUNCH();
  const long long blocks = blocks_of(n, kCompressorBlock);
  DeviceBuffer<double> bmax(size_t(blocks), s), bsum(size_t(blocks), s);
  double mx = 0.0, sum = 0.0;
  for (int det = 0; det < detectors; ++det) {
    float* row = gr.get() + size_t(det) * size_t(n);
    run_recurrence(dsp::GainSmoother{row, k.alpha_attack, k.alpha_release}, smoothed.get(), n, s);
    reduction_stats_kernel<<<grid_for(blocks, 64), 64, 0, s>>>(smoothed.get(), n, kCompressorBlock, bmax.get(), bsum.get());
    LQ_CUDA_CHECK_LAUNCH();
    compressor_gain_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(smoothed.get(), n, k.lookahead_frames, k.makeup_db, row);
    LQ_CUDA_CHECK_LAUNCH();
    reduce_blocks(bmax, bsum, s, mx, sum);
  }
  compressor_apply_kernel<<<grid_for((long long)channels * n, kThreads), kThreads, 0, s>>>(d.data.get(), channels, n,
                                                                                          detectors, gr.get());
  LQ_CUDA_CHECK_LAUNCH();
  m.download(d, audio);
  stats.max_gain_reduction_db = mx;
  stats.mean_gain_reduction_db = sum / (double(n) * double(detectors));
  return stats;
}

cpu::LimiterStats Executor::limit_true_peak(cpu::AudioBuffer& audio, const dsp::LimiterParams& params) {
  Impl& m = *impl_;
  const cudaStream_t s = m.s();
  cpu::LimiterStats stats;
  const long long n = audio.frames();
  const int channels = audio.channel_count();
  if (n == 0 || channels == 0) {
    stats.output_true_peak_dbtp = -HUGE_VAL;
    return stats;
  }
  const dsp::LimiterCoefficients k = dsp::prepare_limiter(params, audio.sample_rate);
  const long long positions = n + kSupport - 1, w = k.lookahead_frames;
  DeviceAudio d = m.upload(audio);
  DeviceBuffer<double> peak(size_t(positions), s);
  double tp = m.limiter_peak(d, peak.get());
  if (tp <= k.ceiling) {
    stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
    return stats;
  }
  DeviceBuffer<float> total(size_t(n), s);
  fill_kernel<float><<<grid_for(n, kThreads), kThreads, 0, s>>>(total.get(), n, 1.0f);
  LQ_CUDA_CHECK_LAUNCH();
  DeviceBuffer<double> support(size_t(n + w - 1), s), h(size_t(n), s), g(size_t(n), s);
  const unsigned apply_grid = grid_for((long long)channels * n, kThreads);

  double c = k.ceiling * kMargin;
  while (stats.passes < kMaxPasses) {
    // One pass at ceiling c (kernels/cpu/limiter.cpp limiter_pass).
    required_gain_kernel<<<grid_for(positions, kThreads), kThreads, 0, s>>>(peak.get(), positions, k.ceiling, c);
    LQ_CUDA_CHECK_LAUNCH();
    window_min_kernel<<<grid_for(n + w - 1, kThreads), kThreads, 0, s>>>(peak.get(), positions, kSupport, support.get(), n + w - 1);
    LQ_CUDA_CHECK_LAUNCH();
    window_min_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(support.get(), n + w - 1, w, h.get(), n);
    LQ_CUDA_CHECK_LAUNCH();
    run_recurrence(dsp::LimiterRelease{h.get(), k.alpha_release}, g.get(), n, s);
    box_average_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(g.get(), n, w, dsp::box_scale(w), support.get(), h.get());
    LQ_CUDA_CHECK_LAUNCH();
    limiter_apply_kernel<<<apply_grid, kThreads, 0, s>>>(d.data.get(), channels, n, h.get(), total.get());
    LQ_CUDA_CHECK_LAUNCH();
    ++stats.passes;
    tp = m.limiter_peak(d, peak.get());
    if (stats.passes == 1 && tp > k.ceiling) stats.over_after_first_pass_db = dsp::linear_to_db(tp / k.ceiling);
    if (tp <= k.ceiling) break;
    c *= kMargin;
  }
  // Hard safety (kernels/cpu/limiter.cpp remove_overs).
  while (tp > k.ceiling) {
    if (stats.safety_rounds < kRegionRounds) {
      over_factor_kernel<<<grid_for(positions, kThreads), kThreads, 0, s>>>(peak.get(), positions, k.ceiling);
      LQ_CUDA_CHECK_LAUNCH();
      window_min_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(peak.get(), positions, kSupport, h.get(), n);
    } else {
      fill_kernel<double><<<grid_for(n, kThreads), kThreads, 0, s>>>(h.get(), n, k.ceiling * kMargin / tp);
    }
    LQ_CUDA_CHECK_LAUNCH();
    limiter_apply_kernel<<<apply_grid, kThreads, 0, s>>>(d.data.get(), channels, n, h.get(), total.get());
    LQ_CUDA_CHECK_LAUNCH();
    tp = m.limiter_peak(d, peak.get());
    ++stats.safety_rounds;
  }

  const long long blocks = blocks_of(n, kLimiterBlock);
  DeviceBuffer<double> bmax(size_t(blocks), s), bsum(size_t(blocks), s);
  block_stats_kernel<<<grid_for(blocks, 64), 64, 0, s>>>(total.get(), n, kLimiterBlock, TotalGainReduction{}, bmax.get(),
                                                          bsum.get());
  LQ_CUDA_CHECK_LAUNCH();
  double mx = 0.0, sum = 0.0;
  reduce_blocks(bmax, bsum, s, mx, sum);
  m.download(d, audio);
  stats.max_gain_reduction_db = mx;
  stats.mean_gain_reduction_db = sum / double(n);
  stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
  return stats;
}

}  // namespace lq::cuda
