// Overlap-save FFT convolution with real FFTs (FFTW, single precision; plans from the wisdom
// shipped in kernels/cpu/fftw_wisdom.inc, FFTW_ESTIMATE where FFTW rejects it).
// Used for the linear-phase EQ FIRs and the reverb impulse responses.
//
// The FFT size K is a fixed function of the filter length L (a small table, never tuned at run
// time: K changes rounding), so the same input and filter give the same bits whatever the
// thread count. The filter's spectrum, with the 1/K scale folded in, is computed once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "kernels/cpu/thread_pool.hpp"

namespace lq::cpu {

// FFTW's planner (fftw_plan_* / fftwf_plan_* / *_destroy_plan, in either precision) is not
// thread-safe: every caller in the process plans under this lock. Executing a plan with the
// new-array functions (fftwf_execute_dft_r2c etc.) on fftw_malloc'ed buffers needs no lock.
std::mutex& fftw_planner_mutex();

// True when this process's FFTW accepted the shipped wisdom (imported on first use).
bool fftw_wisdom_accepted();
// True when this process's FFTW accepted the shipped wisdom and it holds the plans of both real
// transforms of size k (out of place, the convolver's), i.e. they are not FFTW_ESTIMATE's. Every
// plan the convolver makes after this call is the same one.
bool fft_plans_from_wisdom(int64_t k);

// The FFT size K for a filter of length L: a power of two, at least 2^12; 8-16 L up to
// K = 2^17, 4-8 L beyond (2^20 for a 3 s IR at 48 kHz). A constant of the algorithm.
int64_t convolver_fft_size(int64_t filter_length);

class Convolver {
 public:
  explicit Convolver(std::span<const float> taps);  // taps.size() >= 1
  ~Convolver();
  Convolver(Convolver&&) noexcept;
  Convolver& operator=(Convolver&&) noexcept;

  int64_t filter_length() const;
  int64_t fft_size() const;  // convolver_fft_size(L); 0 when L = 1 (a scalar multiply, no FFT)

  // y[k] = sum_j h[j] * x[offset + k - j] for k in [0, n_out), x taken as 0 outside [0, n_in).
  // offset = (L-1)/2 with n_out = n_in gives a latency-compensated linear-phase FIR;
  // offset = 0 with n_out = n_in + L - 1 gives the full convolution with its tail.
  // Blocks are processed in parallel on `pool`; x and y must not overlap.
  void process(const float* x, int64_t n_in, int64_t offset, float* y, int64_t n_out,
               ThreadPool& pool) const;

  // process() as independent jobs (each a fixed range of blocks): jobs(n_out) of them, job j
  // writing only its own outputs. For running several channels' jobs in one parallel loop.
  int64_t jobs(int64_t n_out) const;
  void run_job(int64_t j, const float* x, int64_t n_in, int64_t offset, float* y, int64_t n_out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// convolvers[c]->process(x[c], ..., y[c], ...) for every c, all channels' jobs in one parallel
// loop: a reverb span is one block per channel, which channel after channel kept one thread busy.
// The same bits as process(), channel by channel.
void process_channels(std::span<const Convolver* const> convolvers, std::span<const float* const> x, int64_t n_in,
                      int64_t offset, std::span<float* const> y, int64_t n_out, ThreadPool& pool);

// Several FIR filters of at most `max_length` taps applied to one input for their largest output
// magnitude: per overlap-save block one forward transform of the input and one inverse per filter
// (a Convolver per filter would transform the input once per filter). For the limiter's detector.
// K = convolver_fft_size(max_length); shorter filters are zero-padded to max_length.
class ConvolverBank {
 public:
  // fft_size: the transform's length, a power of two >= 2 max_length (0: convolver_fft_size's
  // choice, the fastest per sample; a shorter one wastes less on short ranges).
  ConvolverBank(std::span<const std::span<const float>> filters, int64_t max_length, int64_t fft_size = 0);
  ~ConvolverBank();
  ConvolverBank(ConvolverBank&&) noexcept;
  ConvolverBank& operator=(ConvolverBank&&) noexcept;

  // out[k - out_begin] = max(out[k - out_begin], max over filters f of |y_f[k]|) for k in
  // [out_begin, out_end), where y_f[k] = sum_j h_f[j] x[k - j], x taken as 0 outside [0, n_in).
  // Blocks run in parallel on `pool`, each writing only its own outputs, on one grid from
  // position 0: the same values whatever the thread count or the range asked for.
  void max_abs(const float* x, int64_t n_in, double* out, int64_t out_begin, int64_t out_end, ThreadPool& pool) const;

  // outs[f][k - out_begin] = y_f[k] for every filter f and k in [out_begin, out_end), on the same
  // grid as max_abs (so the same values whatever the thread count or the range asked for).
  void values(const float* x, int64_t n_in, std::span<double* const> outs, int64_t out_begin, int64_t out_end,
              ThreadPool& pool) const;

  // The grid: block b computes positions [b hop, (b + 1) hop) by one transform of the frames
  // [b hop - (length - 1), (b + 1) hop). Its values carry the rounding of every frame in that
  // window, so a caller that changes frames between calls asks for whole blocks whose windows hold
  // no changed frame to get the values of one call before any change.
  int64_t hop() const;
  int64_t length() const;

 private:
  // The blocks of the grid that cover [out_begin, out_end), in parallel jobs (convolver.cpp).
  template <class OnBlock, class OnSilent>
  void for_each_block(const float* x, int64_t n_in, int64_t out_begin, int64_t out_end, ThreadPool& pool,
                      OnBlock&& on_block, OnSilent&& on_silent) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lq::cpu
