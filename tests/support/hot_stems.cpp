#include "support/hot_stems.hpp"

#include <algorithm>
#include <cmath>

namespace lq::test {

std::vector<std::vector<float>> hot_stem(int kind, std::mt19937& rng, int n) {
  constexpr double kPi = 3.14159265358979323846;
  std::normal_distribution<double> g(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::vector<float>> x(2, std::vector<float>(static_cast<size_t>(n)));
  for (auto& c : x) {
    double lp = 0.0;
    const double period = 6.3 + 9.0 * u(rng), f = 0.46 + 0.035 * u(rng);
    for (int i = 0; i < n; ++i) {
      double v = 0.0;
      switch (kind) {
        case 0: v = 0.5 * g(rng); break;
        case 1: lp = 0.9 * lp + 0.1 * g(rng); v = (i % 2 ? -2.0 : 2.0) * lp; break;
        case 2: v = std::clamp(4.0 * std::exp(-double(i % 2000) / 250.0) * g(rng), -1.6, 1.6); break;
        case 3: v = std::fmod(double(i), period) < period / 2 ? 1.5 : -1.5; break;
        default: v = std::sin(2 * kPi * f * i) + std::sin(2 * kPi * (f - 0.0005) * i + 1.0);
      }
      c[size_t(i)] = float(v);
    }
  }
  return x;
}

}  // namespace lq::test
