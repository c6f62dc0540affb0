#include "reference/reconstruction.hpp"

#include <algorithm>
#include <cmath>

namespace lq::test {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

double reconstruction_at(const std::vector<float>& x, double t) {
  const double r = std::round(t);
  if (std::fabs(t - r) < 1e-12) {
    const auto k = static_cast<long long>(r);
    return k >= 0 && k < static_cast<long long>(x.size()) ? double(x[size_t(k)]) : 0.0;
  }
  double sum = 0.0;
  for (size_t k = 0; k < x.size(); ++k) {
    const double v = double(x[k]) / (t - double(k));
    sum += (k % 2 == 0) ? v : -v;
  }
  return std::sin(kPi * t) / kPi * sum;
}

double reconstruction_peak(const std::vector<float>& x, double t0, double t1) {
  std::vector<std::pair<double, double>> grid;  // (t, |x(t)|) every quarter sample
  double best = 0.0;
  for (double t = t0; t <= t1; t += 0.25) {
    const double v = std::fabs(reconstruction_at(x, t));
    grid.emplace_back(t, v);
    best = std::max(best, v);
  }
  // A local maximum V lies within 1/8 of a 4x point holding at least V - 0.0771 M (M <= 1.083 max):
  // every 4x point above max - 0.09 max is searched.
  const double threshold = best * (1.0 - 0.09);
  for (size_t i = 0; i < grid.size(); ++i) {
    const auto [tc, vc] = grid[i];
    // Local maxima of the 4x grid only: 4 times over-sampled, |x| is unimodal between a peak's
    // neighbouring grid points, so the peak lies within 1/4 of the larger of them.
    if (vc < threshold || (i > 0 && grid[i - 1].second > vc) || (i + 1 < grid.size() && grid[i + 1].second > vc)) continue;
    constexpr int kSteps = 32;  // +-1/4 at 1/128
    double bt = tc, bv = vc;
    for (int i = -kSteps; i <= kSteps; ++i) {
      const double t = tc + double(i) / 128.0;
      if (t < t0 || t > t1) continue;
      const double v = std::fabs(reconstruction_at(x, t));
      if (v > bv) bv = v, bt = t;
    }
    // A parabola through the best point and its neighbours at +-1/128.
    const double h = 1.0 / 128.0;
    const double a = std::fabs(reconstruction_at(x, bt - h)), c = std::fabs(reconstruction_at(x, bt + h));
    const double denom = a - 2.0 * bv + c;
    if (denom < 0.0) {
      const double dt = 0.5 * h * (a - c) / denom;
      if (std::fabs(dt) <= h) bv = std::max(bv, std::fabs(reconstruction_at(x, bt + dt)));
    }
    best = std::max(best, bv);
  }
  return best;
}

double reconstruction_peak(const std::vector<float>& x) {
  return reconstruction_peak(x, -64.0, double(x.size()) + 63.0);
}

// y = x low-passed at `cutoff` (fraction of fs) by a 1201-tap Kaiser-windowed sinc (beta 8, about
// -80 dB from cutoff + 0.005 fs), in double.
std::vector<double> low_pass(const std::vector<double>& x, double cutoff) {
  constexpr int kHalf = 600;
  std::vector<double> h(2 * kHalf + 1);
  auto i0 = [](double v) {
    double term = 1.0, sum = 1.0;
    for (int k = 1; k < 60; ++k) sum += (term *= 0.25 * v * v / (double(k) * k));
    return sum;
  };
  for (int t = -kHalf; t <= kHalf; ++t) {
    const double r = double(t) / kHalf;
    const double w = i0(8.0 * std::sqrt(1.0 - r * r)) / i0(8.0);
    h[size_t(t + kHalf)] = (t == 0 ? 2.0 * cutoff : std::sin(2.0 * kPi * cutoff * t) / (kPi * t)) * w;
  }
  std::vector<double> y(x.size(), 0.0);
  for (size_t n = 0; n < x.size(); ++n) {
    double acc = 0.0;
    for (int t = -kHalf; t <= kHalf; ++t) {
      const long j = long(n) - t;
      if (j >= 0 && j < long(x.size())) acc += h[size_t(t + kHalf)] * x[size_t(j)];
    }
    y[n] = acc;
  }
  return y;
}

}  // namespace lq::test
