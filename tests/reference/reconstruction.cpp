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

}  // namespace lq::test
