#include "reference/dynamics_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/dsp/true_peak.hpp"

namespace lq::test {

double static_gain_reduction_db(double x, double t, double r, double w) {
  double y;  // output level of the static curve, eq. 4
  if (2.0 * (x - t) < -w) {
    y = x;
  } else if (2.0 * std::fabs(x - t) <= w && w > 0.0) {
    y = x + (1.0 / r - 1.0) * (x - t + w / 2.0) * (x - t + w / 2.0) / (2.0 * w);
  } else {
    y = t + (x - t) / r;
  }
  return x - y;
}

std::vector<std::vector<double>> compressor_gains(const std::vector<std::vector<float>>& x, double fs,
                                                  const dsp::CompressorParams& p) {
  const size_t channels = x.size(), n = x[0].size();
  const double aa = std::exp(-1.0 / (p.attack_ms * 1e-3 * fs));
  const double ar = std::exp(-1.0 / (p.release_ms * 1e-3 * fs));
  const auto lookahead = static_cast<size_t>(std::llround(p.lookahead_ms * 1e-3 * fs));
  const double makeup =
      p.auto_makeup ? static_gain_reduction_db(0.0, p.threshold_db, p.ratio, p.knee_db) / 2.0 : p.makeup_db;
  auto level = [](double v) { return std::fabs(v) < 1e-10 ? -200.0 : 20.0 * std::log10(std::fabs(v)); };
  std::vector<std::vector<double>> gains(channels, std::vector<double>(n));
  for (size_t c = 0; c < channels; ++c) {
    std::vector<double> smoothed(n);
    double y = 0.0;
    for (size_t i = 0; i < n; ++i) {
      double peak = 0.0;
      for (size_t k = 0; k < channels; ++k) peak = std::max(peak, std::fabs(double(x[k][i])));
      const double l = p.stereo_link * level(peak) + (1.0 - p.stereo_link) * level(x[c][i]);
      const double gr = static_gain_reduction_db(l, p.threshold_db, p.ratio, p.knee_db);
      const double a = gr > y ? aa : ar;
      y = a * y + (1.0 - a) * gr;
      smoothed[i] = y;
    }
    for (size_t i = 0; i < n; ++i) {
      gains[c][i] = std::pow(10.0, (makeup - smoothed[std::min(n - 1, i + lookahead)]) / 20.0);
    }
  }
  return gains;
}

double limiter_detector_reading(const std::vector<std::vector<float>>& x, int64_t pos) {
  static const auto taps = [] {  // taps[f][p]: the phases of filter f, 2 H taps each
    float t[dsp::kSincFilterCount][dsp::kSincPhases][dsp::kSincMaxTaps];
    dsp::sinc_taps(t);
    std::vector<std::vector<std::vector<float>>> h(dsp::kSincFilterCount);
    for (int f = 0; f < dsp::kSincFilterCount; ++f) {
      for (int p = 0; p < dsp::kSincPhases; ++p) h[size_t(f)].emplace_back(t[f][p], t[f][p] + 2 * dsp::sinc_filter(f).half_width);
    }
    return h;
  }();
  double peak = 0.0;
  for (const auto& ch : x) {
    const auto n = static_cast<int64_t>(ch.size());
    if (pos < n + dsp::kTruePeakTapsPerPhase - 1) peak = std::max(peak, dsp::true_peak_at(ch.data(), n, pos));
    for (const auto& filter : taps) {
      for (const auto& h : filter) {
        double acc = 0.0;
        for (size_t t = 0; t < h.size(); ++t) {
          const int64_t i = pos - int64_t(t);
          if (i >= 0 && i < n) acc += double(h[t]) * double(ch[size_t(i)]);
        }
        peak = std::max(peak, std::fabs(acc));
      }
    }
  }
  return peak;
}

std::vector<double> limiter_first_pass_gain(const std::vector<std::vector<float>>& x, double fs,
                                            const dsp::LimiterParams& p, double target_ratio) {
  const auto n = static_cast<int64_t>(x[0].size());
  const double ceiling = std::pow(10.0, p.ceiling_dbtp / 20.0), target = ceiling * target_ratio;
  const int64_t w = std::max<int64_t>(1, std::llround(p.lookahead_ms * 1e-3 * fs));
  const double alpha = std::exp(-1.0 / (p.release_ms * 1e-3 * fs));
  // Required gain at every detector position, 1 past its last; sample m feeds m .. m + S - 1.
  const int64_t support = dsp::kLimiterSupport;
  auto required = [&](int64_t pos) {
    if (pos >= n + support - 1) return 1.0;
    const double reading = limiter_detector_reading(x, pos);
    return reading > ceiling ? target / reading : 1.0;
  };
  std::vector<double> r(static_cast<size_t>(n + w + support - 1));
  for (int64_t i = 0; i < int64_t(r.size()); ++i) r[size_t(i)] = required(i);
  auto window_min = [&](int64_t from, int64_t len) {
    double m = 1.0;
    for (int64_t j = from; j < from + len; ++j) m = std::min(m, r[size_t(j)]);
    return m;
  };
  std::vector<double> g(static_cast<size_t>(n));
  double prev = 1.0;
  for (int64_t m = 0; m < n; ++m) {
    const double h = window_min(m, w + support - 1);
    prev = std::min(h, prev + (1.0 - alpha) * (h - prev));
    g[size_t(m)] = prev;
  }
  std::vector<double> s(static_cast<size_t>(n));
  for (int64_t m = 0; m < n; ++m) {
    double sum = 0.0;
    for (int64_t j = m - w + 1; j <= m; ++j) sum += j < 0 ? 1.0 : g[size_t(j)];
    s[size_t(m)] = std::min(sum / double(w), window_min(m, support));
  }
  return s;
}

}  // namespace lq::test
