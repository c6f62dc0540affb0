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

double libebur128_album_integrated(const std::vector<DecodedFile>& files) {
  std::vector<ebur128_state*> states;
  for (const auto& f : files) states.push_back(meter_of(f, EBUR128_MODE_I));
  double lufs = 0.0;
  ebur128_loudness_global_multiple(states.data(), states.size(), &lufs);
  for (auto*& st : states) ebur128_destroy(&st);
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

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

#include <cmath>
#include <stdexcept>

namespace lq::test {

double libswresample_true_peak(const DecodedFile& f, int edge) {
  const int channels = static_cast<int>(f.channels.size());
  SwrContext* swr = swr_alloc();
  AVChannelLayout layout;
  av_channel_layout_default(&layout, channels);
  av_opt_set_chlayout(swr, "in_chlayout", &layout, 0);
  av_opt_set_chlayout(swr, "out_chlayout", &layout, 0);
  av_opt_set_int(swr, "in_sample_rate", f.sample_rate, 0);
  av_opt_set_int(swr, "out_sample_rate", 192000, 0);
  av_opt_set_sample_fmt(swr, "in_sample_fmt", AV_SAMPLE_FMT_DBLP, 0);
  av_opt_set_sample_fmt(swr, "out_sample_fmt", AV_SAMPLE_FMT_DBLP, 0);
  if (swr_init(swr) < 0) throw std::runtime_error("libswresample: swr_init failed");
  const int n = f.channels.empty() ? 0 : static_cast<int>(f.channels[0].size());
  std::vector<std::vector<double>> in(static_cast<size_t>(channels), std::vector<double>(static_cast<size_t>(n)));
  std::vector<const uint8_t*> in_ptr;
  double peak = 0.0;
  for (int c = 0; c < channels; ++c) {
    for (int i = 0; i < n; ++i) {
      in[size_t(c)][size_t(i)] = f.channels[size_t(c)][size_t(i)];
      peak = std::max(peak, std::fabs(in[size_t(c)][size_t(i)]));
    }
    in_ptr.push_back(reinterpret_cast<const uint8_t*>(in[size_t(c)].data()));
  }
  const int cap = swr_get_out_samples(swr, n) + 64;
  std::vector<std::vector<double>> out(static_cast<size_t>(channels), std::vector<double>(static_cast<size_t>(cap)));
  std::vector<uint8_t*> out_ptr;
  for (auto& o : out) out_ptr.push_back(reinterpret_cast<uint8_t*>(o.data()));
  const double ratio = 192000.0 / f.sample_rate;
  int64_t at = 0;  // output points so far: point j is at input time j / ratio
  auto take = [&](int got) {
    for (int i = 0; i < got; ++i, ++at) {
      const double t = double(at) / ratio;
      if (t < edge || t > n - 1 - edge) continue;
      for (const auto& o : out) peak = std::max(peak, std::fabs(o[size_t(i)]));
    }
  };
  take(swr_convert(swr, out_ptr.data(), cap, in_ptr.data(), n));
  take(swr_convert(swr, out_ptr.data(), cap, nullptr, 0));  // the flush
  swr_free(&swr);
  av_channel_layout_uninit(&layout);
  return peak;
}

}  // namespace lq::test
