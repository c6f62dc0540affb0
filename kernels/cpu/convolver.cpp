// Overlap-save convolution on the CPU (FFTW single precision, real transforms).
//
// Output block b covers y[b*hop, b*hop + hop), hop = K - L + 1. Its frame is the K input samples
// x[offset + b*hop - (L-1) + i], i in [0, K) (zero outside [0, n_in)); the circular convolution of
// the frame with h (zero-padded to K) equals the linear one at i >= L-1, which are kept (Oppenheim
// & Schafer, "Discrete-Time Signal Processing", 3rd ed., 8.7.3). Blocks are independent: each job
// owns a fixed range of blocks and its own scratch, and writes only its own outputs, so the bits
// do not depend on the thread count. An all-zero frame gives zeros without a transform.
//
// The filter's spectrum is computed in double (FFTW), scaled by 1/K, rounded to float once.
//
// Plans: a plan fixes the order of an FFT's operations, hence its rounding, so plans must not be
// chosen by timing at run time (FFTW_MEASURE could pick differently in two runs). The plans come
// from wisdom shipped in the source (fftw_wisdom.inc: FFTW_PATIENT plans for K = 2^12 .. 2^21, made
// once by tools/fftw_wisdom.cpp), imported before the first plan; every run of this build with this
// FFTW then gets the same plans. Where FFTW rejects that wisdom (another FFTW version or build) or
// has none for a size, FFTW_ESTIMATE plans, which are deterministic too but slower: measured here
// (FFTW 3.3.10 float, one r2c + c2r pair, ns per sample) 2^12: 2.0 -> 1.6, 2^15: 2.8-3.1 -> 1.9,
// 2^20: 5.9 -> 4.0.
#include "kernels/cpu/convolver.hpp"

#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/overlap_save.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace lq::cpu {

namespace {

struct FloatPlans {
  fftwf_plan r2c = nullptr;  // out of place, K reals -> K/2+1 complex
  fftwf_plan c2r = nullptr;  // out of place, K/2+1 complex -> K reals (destroys its input)
};

// Plans are keyed by K only (docs/algorithms.md "Convolution"), made once and destroyed at exit.
struct PlanCache {
  std::map<int64_t, FloatPlans> single;
  std::map<int64_t, fftw_plan> twice;  // double precision, for the filter spectra
  ~PlanCache() {
    std::lock_guard lock(fftw_planner_mutex());
    for (auto& [k, p] : single) {
      fftwf_destroy_plan(p.r2c);
      fftwf_destroy_plan(p.c2r);
    }
    for (auto& [k, p] : twice) fftw_destroy_plan(p);
  }
};

constexpr const char* kShippedWisdom =
#include "kernels/cpu/fftw_wisdom.inc"
    ;

// Callers hold fftw_planner_mutex(). Imports the shipped wisdom once; true when FFTW accepted it.
bool shipped_wisdom_imported() {
  static const bool imported = fftwf_import_wisdom_from_string(kShippedWisdom) != 0;
  return imported;
}

// The mutex is constructed first, so it outlives the cache.
PlanCache& plan_cache() {
  fftw_planner_mutex();
  static PlanCache cache;
  return cache;
}

const FloatPlans& float_plans(int64_t k) {
  PlanCache& cache = plan_cache();
  std::lock_guard lock(fftw_planner_mutex());
  if (auto it = cache.single.find(k); it != cache.single.end()) return it->second;
  shipped_wisdom_imported();
  float* r = fftwf_alloc_real(static_cast<size_t>(k));
  fftwf_complex* c = fftwf_alloc_complex(static_cast<size_t>(k / 2 + 1));
  FloatPlans p;
  if (r && c) {
    p.r2c = fftwf_plan_dft_r2c_1d(static_cast<int>(k), r, c, FFTW_ESTIMATE);
    p.c2r = fftwf_plan_dft_c2r_1d(static_cast<int>(k), c, r, FFTW_ESTIMATE);
  }
  fftwf_free(r);
  fftwf_free(c);
  if (!p.r2c || !p.c2r) {
    if (p.r2c) fftwf_destroy_plan(p.r2c);
    if (p.c2r) fftwf_destroy_plan(p.c2r);
    throw std::runtime_error("FFTW could not plan a real FFT of size " + std::to_string(k));
  }
  return cache.single.emplace(k, p).first->second;
}

fftw_plan double_r2c_plan(int64_t k) {
  PlanCache& cache = plan_cache();
  std::lock_guard lock(fftw_planner_mutex());
  if (auto it = cache.twice.find(k); it != cache.twice.end()) return it->second;
  double* r = fftw_alloc_real(static_cast<size_t>(k));
  fftw_complex* c = fftw_alloc_complex(static_cast<size_t>(k / 2 + 1));
  fftw_plan p = (r && c) ? fftw_plan_dft_r2c_1d(static_cast<int>(k), r, c, FFTW_ESTIMATE) : nullptr;
  fftw_free(r);
  fftw_free(c);
  if (!p) throw std::runtime_error("FFTW could not plan a real FFT of size " + std::to_string(k));
  return cache.twice.emplace(k, p).first->second;
}

template <class T>
struct FftwFree {
  void operator()(T* p) const { fftwf_free(p); }
};
template <class T>
using FftwPtr = std::unique_ptr<T, FftwFree<T>>;

template <class T>
FftwPtr<T> fftw_array(int64_t n) {
  auto* p = static_cast<T*>(fftwf_malloc(sizeof(T) * static_cast<size_t>(n)));
  if (!p) throw std::bad_alloc();
  return FftwPtr<T>(p);
}

// DFT_K(h) / K of the taps zero-padded to K, computed in double and rounded to float once.
FftwPtr<fftwf_complex> filter_spectrum(std::span<const float> taps, int64_t k) {
  const fftw_plan dplan = double_r2c_plan(k);
  auto spectrum = fftw_array<fftwf_complex>(k / 2 + 1);
  double* hd = fftw_alloc_real(static_cast<size_t>(k));
  fftw_complex* hs = fftw_alloc_complex(static_cast<size_t>(k / 2 + 1));
  if (!hd || !hs) {
    fftw_free(hd);
    fftw_free(hs);
    throw std::bad_alloc();
  }
  const auto l = static_cast<int64_t>(taps.size());
  for (int64_t i = 0; i < k; ++i) hd[i] = i < l ? static_cast<double>(taps[static_cast<size_t>(i)]) : 0.0;
  fftw_execute_dft_r2c(dplan, hd, hs);
  const double scale = 1.0 / static_cast<double>(k);
  for (int64_t i = 0; i <= k / 2; ++i) {
    spectrum.get()[i][0] = static_cast<float>(hs[i][0] * scale);
    spectrum.get()[i][1] = static_cast<float>(hs[i][1] * scale);
  }
  fftw_free(hd);
  fftw_free(hs);
  return spectrum;
}

// Loads frame[i] = x[start + i] for i in [0, k), 0 outside [0, n_in). Returns false (frame
// untouched) when those samples are all zero.
bool load_frame(const float* x, int64_t n_in, int64_t start, int64_t k, float* frame) {
  const int64_t lo = std::clamp<int64_t>(start, 0, n_in);
  const int64_t hi = std::clamp<int64_t>(start + k, 0, n_in);
  bool silent = true;
  for (int64_t i = lo; i < hi && silent; ++i) silent = x[i] == 0.0f;
  if (silent) return false;
  std::fill(frame, frame + (lo - start), 0.0f);
  std::memcpy(frame + (lo - start), x + lo, sizeof(float) * static_cast<size_t>(hi - lo));
  std::fill(frame + (hi - start), frame + k, 0.0f);
  return true;
}

// bins = x * h (complex, K/2 + 1 bins).
LQ_CPU_CLONES void multiply_spectra(const fftwf_complex* x, const fftwf_complex* h, int64_t k, fftwf_complex* bins) {
  for (int64_t i = 0; i <= k / 2; ++i) {
    const float xr = x[i][0], xi = x[i][1];
    bins[i][0] = xr * h[i][0] - xi * h[i][1];
    bins[i][1] = xr * h[i][1] + xi * h[i][0];
  }
}

// peak[i] = max(peak[i], |y[i]|), i in [0, n).
LQ_CPU_CLONES void max_abs_into(const float* y, int64_t n, float* peak) {
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(y[i]);
    peak[i] = peak[i] < a ? a : peak[i];
  }
}

// out[i] = max(out[i], double(peak[i])), i in [0, n).
LQ_CPU_CLONES void widen_max_into(const float* peak, int64_t n, double* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double a = double(peak[i]);
    out[i] = out[i] < a ? a : out[i];
  }
}

// Work per parallel job, in frame samples: enough that scheduling and scratch allocation are
// negligible, small enough that the blocks of a song spread over the threads.
constexpr int64_t job_samples = int64_t{1} << 18;
// Output samples per job of the L = 1 path.
constexpr int64_t scale_job_samples = int64_t{1} << 16;

}  // namespace

std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

bool fftw_wisdom_accepted() {
  plan_cache();
  std::lock_guard lock(fftw_planner_mutex());
  return shipped_wisdom_imported();
}

bool fft_plans_from_wisdom(int64_t k) {
  if (k < 2 || k > std::numeric_limits<int>::max()) return false;
  plan_cache();
  std::lock_guard lock(fftw_planner_mutex());
  if (!shipped_wisdom_imported()) return false;
  float* r = fftwf_alloc_real(static_cast<size_t>(k));
  fftwf_complex* c = fftwf_alloc_complex(static_cast<size_t>(k / 2 + 1));
  fftwf_plan a = r && c ? fftwf_plan_dft_r2c_1d(static_cast<int>(k), r, c, FFTW_ESTIMATE | FFTW_WISDOM_ONLY) : nullptr;
  fftwf_plan b = r && c ? fftwf_plan_dft_c2r_1d(static_cast<int>(k), c, r, FFTW_ESTIMATE | FFTW_WISDOM_ONLY) : nullptr;
  const bool both = a && b;
  if (a) fftwf_destroy_plan(a);
  if (b) fftwf_destroy_plan(b);
  fftwf_free(r);
  fftwf_free(c);
  return both;
}

int64_t convolver_fft_size(int64_t filter_length) {
  // Smallest power of two >= 8 L (at least 2^12) while that stays <= 2^17, beyond that the
  // smallest >= 4 L: FFTW_ESTIMATE transforms cost per sample jumps once a frame and its spectrum
  // leave the 1 MiB L2 (K > 2^17), so long filters trade hop length for cache. Measured here
  // (FFTW 3.3 float, ESTIMATE, 1 thread, ns per output sample): L=500: K=2^12 4.3, 2^15 5.4;
  // L=4801: 2^15 6.8, 2^16 6.5, 2^17 6.5, 2^18 7.4; L=65535: 2^18 8.9, 2^19 12.3, 2^20 14.0;
  // L=144000: 2^19 14.4-16.6, 2^20 15.1-16.3, 2^21 19.0; L=262144: 2^20 19.0, 2^21 20.5.
  return dsp::convolver_fft_size(filter_length);
}

struct Convolver::Impl {
  int64_t l = 1;
  int64_t k = 0;
  float h0 = 0.0f;  // L = 1: the single tap
  FftwPtr<fftwf_complex> spectrum;  // DFT_K(h) / K, K/2+1 bins
  const FloatPlans* plans = nullptr;

  void run_block(const float* x, int64_t n_in, int64_t offset, float* y, int64_t n_out, int64_t block,
                 float* frame, fftwf_complex* bins) const;
  // The job split (L > 1): blocks of n_out outputs, blocks_per_job() of them per job.
  int64_t blocks(int64_t n_out) const { return (n_out + (k - l)) / (k - l + 1); }
  int64_t blocks_per_job() const { return std::max<int64_t>(1, job_samples / k); }
};

Convolver::Convolver(std::span<const float> taps) : impl_(std::make_unique<Impl>()) {
  if (taps.empty()) throw std::invalid_argument("Convolver: the filter has no taps");
  Impl& m = *impl_;
  m.l = static_cast<int64_t>(taps.size());
  if (m.l == 1) {
    m.h0 = taps[0];
    return;
  }
  m.k = convolver_fft_size(m.l);
  m.plans = &float_plans(m.k);
  m.spectrum = filter_spectrum(taps, m.k);
}

Convolver::~Convolver() = default;
Convolver::Convolver(Convolver&&) noexcept = default;
Convolver& Convolver::operator=(Convolver&&) noexcept = default;

int64_t Convolver::filter_length() const { return impl_->l; }
int64_t Convolver::fft_size() const { return impl_->k; }

void Convolver::Impl::run_block(const float* x, int64_t n_in, int64_t offset, float* y, int64_t n_out,
                                int64_t block, float* frame, fftwf_complex* bins) const {
  const dsp::OverlapSave os{k, l, k - l + 1};
  const int64_t y0 = block * os.hop;
  const int64_t count = std::min(os.hop, n_out - y0);
  if (!load_frame(x, n_in, os.frame_start(offset, block), k, frame)) {
    std::fill(y + y0, y + y0 + count, 0.0f);
    return;
  }
  fftwf_execute_dft_r2c(plans->r2c, frame, bins);
  multiply_spectra(bins, spectrum.get(), k, bins);
  fftwf_execute_dft_c2r(plans->c2r, bins, frame);
  std::memcpy(y + y0, frame + (l - 1), sizeof(float) * static_cast<size_t>(count));
}

int64_t Convolver::jobs(int64_t n_out) const {
  if (n_out <= 0) return 0;
  const Impl& m = *impl_;
  if (m.l == 1) return (n_out + scale_job_samples - 1) / scale_job_samples;
  const int64_t per_job = m.blocks_per_job();
  return (m.blocks(n_out) + per_job - 1) / per_job;
}

void Convolver::run_job(int64_t j, const float* x, int64_t n_in, int64_t offset, float* y, int64_t n_out) const {
  n_in = std::max<int64_t>(n_in, 0);
  const Impl& m = *impl_;
  if (m.l == 1) {
    const int64_t end = std::min(n_out, (j + 1) * scale_job_samples);
    for (int64_t i = j * scale_job_samples; i < end; ++i) {
      const int64_t src = offset + i;
      y[i] = src >= 0 && src < n_in ? m.h0 * x[src] : 0.0f;
    }
    return;
  }
  const int64_t per_job = m.blocks_per_job();
  auto frame = fftw_array<float>(m.k);
  auto bins = fftw_array<fftwf_complex>(m.k / 2 + 1);
  const int64_t end = std::min(m.blocks(n_out), (j + 1) * per_job);
  for (int64_t b = j * per_job; b < end; ++b) m.run_block(x, n_in, offset, y, n_out, b, frame.get(), bins.get());
}

void Convolver::process(const float* x, int64_t n_in, int64_t offset, float* y, int64_t n_out,
                        ThreadPool& pool) const {
  pool.parallel_for(jobs(n_out), [&](int64_t j) { run_job(j, x, n_in, offset, y, n_out); });
}

void process_channels(std::span<const Convolver* const> convolvers, std::span<const float* const> x, int64_t n_in,
                      int64_t offset, std::span<float* const> y, int64_t n_out, ThreadPool& pool) {
  std::vector<int64_t> first{0};  // first[c]: channel c's first job in the joint numbering
  for (const Convolver* c : convolvers) first.push_back(first.back() + c->jobs(n_out));
  pool.parallel_for(first.back(), [&](int64_t j) {
    const size_t c = size_t(std::upper_bound(first.begin(), first.end(), j) - first.begin() - 1);
    convolvers[c]->run_job(j - first[c], x[c], n_in, offset, y[c], n_out);
  });
}

struct ConvolverBank::Impl {
  int64_t l = 1;  // the longest filter; shorter ones are zero-padded to it
  int64_t k = 0;
  std::vector<FftwPtr<fftwf_complex>> spectra;
  const FloatPlans* plans = nullptr;
};

ConvolverBank::ConvolverBank(std::span<const std::span<const float>> filters, int64_t max_length, int64_t fft_size)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.l = std::max<int64_t>(2, max_length);
  m.k = fft_size ? fft_size : convolver_fft_size(m.l);
  if (m.k < 2 * m.l || (m.k & (m.k - 1)) != 0) {
    throw std::invalid_argument("ConvolverBank: the transform must be a power of two of at least twice the filter");
  }
  m.plans = &float_plans(m.k);
  for (const auto& taps : filters) {
    if (taps.empty() || static_cast<int64_t>(taps.size()) > m.l) {
      throw std::invalid_argument("ConvolverBank: a filter is empty or longer than max_length");
    }
    m.spectra.push_back(filter_spectrum(taps, m.k));
  }
}

ConvolverBank::~ConvolverBank() = default;
ConvolverBank::ConvolverBank(ConvolverBank&&) noexcept = default;
ConvolverBank& ConvolverBank::operator=(ConvolverBank&&) noexcept = default;

int64_t ConvolverBank::hop() const { return impl_->k - impl_->l + 1; }
int64_t ConvolverBank::length() const { return impl_->l; }

// Calls on_block(i0, i1, y) for each block b of the grid from position 0 that covers
// [out_begin, out_end) and whose frame holds a nonzero sample, with [i0, i1) the positions it
// gives in the range and y(f) the transform of filter f, a pointer to its value at position i0
// (valid until the next call of y); on_silent(i0, i1) for a block whose frame is all zeros. A
// position's value comes from its own block's frame, whatever range was asked for.
template <class OnBlock, class OnSilent>
void ConvolverBank::for_each_block(const float* x, int64_t n_in, int64_t out_begin, int64_t out_end,
                                   ThreadPool& pool, OnBlock&& on_block, OnSilent&& on_silent) const {
  if (out_end <= out_begin) return;
  n_in = std::max<int64_t>(n_in, 0);
  const Impl& m = *impl_;
  const dsp::OverlapSave os{m.k, m.l, m.k - m.l + 1};
  const int64_t first = out_begin / os.hop, blocks = (out_end + os.hop - 1) / os.hop - first;
  // At least four jobs per thread where the range allows (a limiter span is a few jobs' worth).
  const int64_t per_job = std::clamp<int64_t>(blocks / (4 * int64_t(pool.size())), 1, std::max<int64_t>(1, job_samples / m.k));
  const int64_t jobs = (blocks + per_job - 1) / per_job;
  pool.parallel_for(jobs, [&](int64_t j) {
    auto frame = fftw_array<float>(m.k);
    auto input = fftw_array<fftwf_complex>(m.k / 2 + 1);
    auto bins = fftw_array<fftwf_complex>(m.k / 2 + 1);
    const int64_t end = first + std::min(blocks, (j + 1) * per_job);
    for (int64_t b = first + j * per_job; b < end; ++b) {
      const int64_t i0 = std::max(b * os.hop, out_begin), i1 = std::min((b + 1) * os.hop, out_end);
      if (!load_frame(x, n_in, os.frame_start(0, b), m.k, frame.get())) {
        on_silent(i0, i1);
        continue;
      }
      fftwf_execute_dft_r2c(m.plans->r2c, frame.get(), input.get());
      on_block(i0, i1, [&](size_t f) -> const float* {
        multiply_spectra(input.get(), m.spectra[f].get(), m.k, bins.get());
        fftwf_execute_dft_c2r(m.plans->c2r, bins.get(), frame.get());
        return frame.get() + (m.l - 1) + (i0 - b * os.hop);  // y[i - b hop]: position i
      });
    }
  });
}

void ConvolverBank::max_abs(const float* x, int64_t n_in, double* out, int64_t out_begin, int64_t out_end,
                            ThreadPool& pool) const {
  const size_t filters = impl_->spectra.size();
  for_each_block(
      x, n_in, out_begin, out_end, pool,
      [&](int64_t i0, int64_t i1, auto&& y) {
        // The largest |y| over the filters in float, widened once (exact).
        thread_local std::vector<float> peak;  // per worker, reused across blocks
        peak.assign(size_t(i1 - i0), 0.0f);
        for (size_t f = 0; f < filters; ++f) max_abs_into(y(f), i1 - i0, peak.data());
        widen_max_into(peak.data(), i1 - i0, out + (i0 - out_begin));
      },
      [](int64_t, int64_t) {});  // |y| = 0 <= out
}

void ConvolverBank::values(const float* x, int64_t n_in, std::span<double* const> outs, int64_t out_begin,
                           int64_t out_end, ThreadPool& pool) const {
  const size_t filters = std::min(impl_->spectra.size(), outs.size());
  for_each_block(
      x, n_in, out_begin, out_end, pool,
      [&](int64_t i0, int64_t i1, auto&& y) {
        for (size_t f = 0; f < filters; ++f) {
          const float* v = y(f);
          std::copy(v, v + (i1 - i0), outs[f] + (i0 - out_begin));
        }
      },
      [&](int64_t i0, int64_t i1) {
        for (double* o : outs) std::fill(o + (i0 - out_begin), o + (i1 - out_begin), 0.0);
      });
}

}  // namespace lq::cpu
