#include "reference/direct_convolution.hpp"

#include <fftw3.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "kernels/cpu/convolver.hpp"  // only for the process-wide FFTW planner lock

namespace lq::test {

double direct_convolution_at(std::span<const float> x, std::span<const float> h, int64_t offset, int64_t k) {
  const int64_t n_in = static_cast<int64_t>(x.size());
  const int64_t l = static_cast<int64_t>(h.size());
  double acc = 0.0;
  for (int64_t j = 0; j < l; ++j) {
    const int64_t i = offset + k - j;
    if (i >= 0 && i < n_in) acc += static_cast<double>(h[static_cast<size_t>(j)]) * x[static_cast<size_t>(i)];
  }
  return acc;
}

std::vector<double> direct_convolution(std::span<const float> x, std::span<const float> h, int64_t offset,
                                       int64_t n_out) {
  std::vector<double> y(static_cast<size_t>(std::max<int64_t>(n_out, 0)));
  for (int64_t k = 0; k < n_out; ++k) y[static_cast<size_t>(k)] = direct_convolution_at(x, h, offset, k);
  return y;
}

std::vector<double> fft_convolution_f64(std::span<const float> x, std::span<const float> h) {
  const int64_t n_full = static_cast<int64_t>(x.size() + h.size()) - 1;
  int64_t n = 1;
  while (n < n_full) n *= 2;
  const int64_t bins = n / 2 + 1;
  double* a = fftw_alloc_real(static_cast<size_t>(n));
  double* b = fftw_alloc_real(static_cast<size_t>(n));
  fftw_complex* fa = fftw_alloc_complex(static_cast<size_t>(bins));
  fftw_complex* fb = fftw_alloc_complex(static_cast<size_t>(bins));
  if (!a || !b || !fa || !fb) throw std::bad_alloc();
  fftw_plan fwd, inv;
  {
    std::lock_guard lock(lq::cpu::fftw_planner_mutex());
    fwd = fftw_plan_dft_r2c_1d(static_cast<int>(n), a, fa, FFTW_ESTIMATE);
    inv = fftw_plan_dft_c2r_1d(static_cast<int>(n), fa, a, FFTW_ESTIMATE);
  }
  for (int64_t i = 0; i < n; ++i) {
    a[i] = i < static_cast<int64_t>(x.size()) ? static_cast<double>(x[static_cast<size_t>(i)]) : 0.0;
    b[i] = i < static_cast<int64_t>(h.size()) ? static_cast<double>(h[static_cast<size_t>(i)]) : 0.0;
  }
  fftw_execute_dft_r2c(fwd, a, fa);
  fftw_execute_dft_r2c(fwd, b, fb);
  for (int64_t i = 0; i < bins; ++i) {
    const double re = fa[i][0] * fb[i][0] - fa[i][1] * fb[i][1];
    const double im = fa[i][0] * fb[i][1] + fa[i][1] * fb[i][0];
    fa[i][0] = re;
    fa[i][1] = im;
  }
  fftw_execute(inv);
  std::vector<double> y(static_cast<size_t>(n_full));
  for (int64_t i = 0; i < n_full; ++i) y[static_cast<size_t>(i)] = a[i] / static_cast<double>(n);
  {
    std::lock_guard lock(lq::cpu::fftw_planner_mutex());
    fftw_destroy_plan(fwd);
    fftw_destroy_plan(inv);
  }
  fftw_free(a);
  fftw_free(b);
  fftw_free(fa);
  fftw_free(fb);
  return y;
}

}  // namespace lq::test
