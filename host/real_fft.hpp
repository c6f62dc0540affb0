// A double-precision real-to-complex or complex-to-real FFTW transform of one size, planned
// (FFTW_ESTIMATE) and destroyed under FFTW's planner lock: the EQ designer's and the reference
// match's transforms.
#pragma once

#include <fftw3.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>

#include "kernels/cpu/convolver.hpp"  // fftw_planner_mutex

namespace lq {

// A double real-to-complex or complex-to-real transform of size n, planned under the lock.
struct RealFft {
  int64_t n;
  double* real;
  fftw_complex* bins;
  fftw_plan plan = nullptr;
  RealFft(int64_t size, bool inverse)
      : n(size), real(fftw_alloc_real(static_cast<size_t>(size))),
        bins(fftw_alloc_complex(static_cast<size_t>(size / 2 + 1))) {
    if (real && bins) {
      std::lock_guard lock(cpu::fftw_planner_mutex());
      plan = inverse ? fftw_plan_dft_c2r_1d(static_cast<int>(n), bins, real, FFTW_ESTIMATE)
                     : fftw_plan_dft_r2c_1d(static_cast<int>(n), real, bins, FFTW_ESTIMATE);
    }
    if (!plan) {
      release();
      throw std::runtime_error("FFTW could not plan a transform");
    }
  }
  ~RealFft() { release(); }
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;
  void release() {
    if (plan) {
      std::lock_guard lock(cpu::fftw_planner_mutex());
      fftw_destroy_plan(plan);
    }
    fftw_free(real);
    fftw_free(bins);
  }
};

}  // namespace lq
