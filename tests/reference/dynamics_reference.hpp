// Independent float64 reference of the compressor: the textbook definition (Giannoulis,
// Massberg & Reiss 2012: peak level in dB, soft-knee static curve eq. 4, branching smoother on
// the gain reduction eq. 17), one plain loop, fully linked, no look-ahead, no makeup.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace lq::reference {

inline double static_gain_reduction_db(double x, double t, double r, double w) {
  if (2.0 * (x - t) < -w) return 0.0;
  if (2.0 * std::fabs(x - t) <= w) return (1.0 - 1.0 / r) * (x - t + w / 2.0) * (x - t + w / 2.0) / (2.0 * w);
  return (1.0 - 1.0 / r) * (x - t);
}

// Returns the linear gain per frame.
inline std::vector<double> compressor_gain(const std::vector<std::vector<float>>& x, double fs, double t,
                                           double r, double w, double attack_ms, double release_ms) {
  const double aa = std::exp(-1.0 / (attack_ms * 1e-3 * fs));
  const double ar = std::exp(-1.0 / (release_ms * 1e-3 * fs));
  std::vector<double> g(x[0].size());
  double y = 0.0;
  for (size_t i = 0; i < g.size(); ++i) {
    double peak = 0.0;
    for (const auto& ch : x) peak = std::max(peak, std::fabs(double(ch[i])));
    const double level = peak < 1e-10 ? -200.0 : 20.0 * std::log10(peak);
    const double gr = static_gain_reduction_db(level, t, r, w);
    const double a = gr > y ? aa : ar;
    y = a * y + (1.0 - a) * gr;
    g[i] = std::pow(10.0, -y / 20.0);
  }
  return g;
}

}  // namespace lq::reference
