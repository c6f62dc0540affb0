#include "support/libebur128_meter.hpp"

#include <ebur128.h>

#include <algorithm>

namespace lq::test {

namespace {

// A libebur128 state in `mode` that has read every frame of f.
ebur128_state* meter_of(const DecodedFile& f, int mode) {
  const auto ch = static_cast<unsigned>(f.channels.size());
  ebur128_state* st = ebur128_init(ch, static_cast<unsigned long>(f.sample_rate), mode);
  const size_t n = f.channels.empty() ? 0 : f.channels[0].size();
  std::vector<float> inter(n * ch);
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < ch; ++c) inter[i * ch + c] = f.channels[c][i];
  }
  ebur128_add_frames_float(st, inter.data(), n);
  return st;
}

}  // namespace

double libebur128_integrated(const DecodedFile& f) {
  ebur128_state* st = meter_of(f, EBUR128_MODE_I);
  double lufs = 0.0;
  ebur128_loudness_global(st, &lufs);
  ebur128_destroy(&st);
  return lufs;
}

double libebur128_true_peak(const DecodedFile& f) {
  ebur128_state* st = meter_of(f, EBUR128_MODE_TRUE_PEAK);
  double peak = 0.0;
  for (unsigned c = 0; c < static_cast<unsigned>(f.channels.size()); ++c) {
    double p = 0.0;
    ebur128_true_peak(st, c, &p);
    peak = std::max(peak, p);
  }
  ebur128_destroy(&st);
  return peak;
}

}  // namespace lq::test
