// The device backend's orchestration (host/device_backend.hpp): which kernels, in which order, on
// which buffers, with which batch shapes; the same code whichever executor runs it.
//
// Convolution: the channels that share a filter length (so an FFT size K) form one problem of
// channels x segments overlap-save frames (kernels/dsp/overlap_save.hpp), run in batches of
// batch_samples / K frames: gather -> rfft -> multiply by the channel's filter spectrum -> irfft ->
// scatter. Every frame is written once from its own inputs, so the bits depend only on the input.
// Filter spectra: the taps in float64, transformed once per (taps, K) and rounded to float with
// 1/K folded in, as the CPU convolver does; cached by their taps across calls.
// Meter: the two K-weighting biquads in three phases over chunks (kernels/device/kernels.hpp),
// the chunk start states carried on the device. Peaks: a per-position profile, then maxima over
// fixed blocks, twice, then the last few on the host: a maximum is exact, so the shape of the
// reduction changes no figure.
// Compressor: the static curve per frame, the smoother as a chunked recurrence (speculation, then
// one walk that re-runs each chunk from its predecessor's end: no host round trip), the gain with
// its look-ahead, the statistics per block of the CPU's blocking in dsp::ReductionStats's order.
// Limiter (the algorithm of kernels/cpu/limiter.cpp): the detector's profile, then per pass the
// required gain, two sliding minima, the release (chunked as above), the box average, the
// application; the largest reading after each pass is the one value the host reads (one sync a
// pass); then the hard safety's rounds as the CPU's.
// Backend's calls upload their input, run the rows' pass, download the result and sync once (the
// limiter once a pass more); the device render (host/device_render.cpp) calls the rows' passes on
// buffers that stay on the device.
#include "host/device_backend.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/device/host_device.hpp"

namespace lq {

using dev::Buffer;
using dev::Complex;

namespace {
constexpr int64_t kReduceBlock = 1024;  // values per block of the max reductions
}  // namespace

DeviceBackend::DeviceBackend(std::string name, std::unique_ptr<dev::Device> device, std::unique_ptr<Backend> host,
                             DeviceBackendOptions options, std::unique_ptr<cpu::ThreadPool> owned_pool)
    : name_(std::move(name)), owned_pool_(std::move(owned_pool)), d_(std::move(device)), host_(std::move(host)),
      options_(options) {}

DeviceBackend::~DeviceBackend() {
  spectra_.clear();  // device buffers go back before the device
  sinc_taps_ = {};
}

void DeviceBackend::sync() {
  d_->sync();
  staging_ints_.clear();
  staging_floats_.clear();
}

template <class R>
void DeviceBackend::run_recurrence(const R& rec, typename R::Value* y, int64_t n) {
  constexpr int64_t kChunk = 1 << 13;  // speculation chunk: speed only
  d_->launch(dev::SpeculateChunks<R>{rec, y, n, kChunk}, (n + kChunk - 1) / kChunk);
  if (n > kChunk) d_->launch(dev::WalkChunks<R>{rec, y, n, kChunk}, 1);
}

Buffer<float> DeviceBackend::upload(const AudioBuffer& a) {
  const size_t frames = size_t(a.frames());
  Buffer<float> b(*d_, size_t(a.channel_count()) * frames);
  for (int c = 0; c < a.channel_count(); ++c) b.upload(a.channels[size_t(c)].data(), frames, size_t(c) * frames);
  return b;
}

void DeviceBackend::download_rows(const float* x, int64_t n, AudioBuffer& out) {
  for (int c = 0; c < out.channel_count(); ++c) {
    d_->download(out.channels[size_t(c)].data(), x + size_t(c) * size_t(n), size_t(n) * sizeof(float));
  }
}

void DeviceBackend::max_of(const double* v, int64_t count, std::vector<double>& result) {
  std::vector<Buffer<double>> levels;
  while (count > kReduceBlock) {
    const int64_t blocks = (count + kReduceBlock - 1) / kReduceBlock;
    levels.emplace_back(*d_, size_t(blocks));
    d_->launch(dev::MaxAbsBlocks<double>{v, count, kReduceBlock, levels.back().get()}, blocks);
    v = levels.back().get();
    count = blocks;
  }
  result.assign(size_t(count), 0.0);
  if (count > 0) d_->download(result.data(), v, size_t(count) * sizeof(double));
}

void DeviceBackend::max_abs_of(const float* x, int64_t count, std::vector<double>& result) {
  const int64_t blocks = (count + kReduceBlock - 1) / kReduceBlock;
  Buffer<double> block_max(*d_, size_t(blocks));  // released stream-ordered: read before it goes
  if (blocks > 0) d_->launch(dev::MaxAbsBlocks<float>{x, count, kReduceBlock, block_max.get()}, blocks);
  max_of(block_max.get(), blocks, result);
}

double DeviceBackend::true_peak_scan(const AudioBuffer& audio) { return measure(audio, {}, 1, kTruePeak).true_peak; }

double DeviceBackend::sample_peak_scan(const AudioBuffer& audio) { return measure(audio, {}, 1, kSamplePeak).sample_peak; }

void DeviceBackend::k_weighted_energies(const float* x, int64_t frames, double rate, std::span<const int> channels,
                                        int64_t segment_frames, std::vector<std::vector<double>>& out) {
  const int64_t segments = frames / segment_frames;
  out.assign(channels.size(), std::vector<double>(size_t(segments)));
  if (channels.empty() || segments == 0) return;
  const auto k = dsp::k_weighting_coefficients(rate);
  const int64_t chunk = dsp::k_weighting_chunk_frames(segment_frames);
  const dev::ChunkLayout L{frames, chunk, (frames + chunk - 1) / chunk, int(channels.size())};
  const int64_t tasks = L.chunks * L.rows;

  staging_ints_.emplace_back(channels.begin(), channels.end());
  Buffer<int> rows(*d_, channels.size());
  rows.upload(staging_ints_.back().data(), channels.size());
  Buffer<double> ends(*d_, size_t(2 * tasks)), starts(*d_, size_t(2 * tasks));
  Buffer<double> u(*d_, size_t(L.rows) * size_t(frames));
  Buffer<double> energies(*d_, size_t(L.rows) * size_t(segments));
  dev::BiquadCarry carry{ends.get(), L, {}, starts.get()};

  d_->launch(dev::BiquadZeroStateEnds<float>{x, rows.get(), L, k.shelf, ends.get()}, tasks);
  dsp::biquad_homogeneous_matrix(k.shelf, chunk, carry.m);
  d_->launch(carry, L.rows);
  d_->launch(dev::ShelfOutput{x, rows.get(), L, k.shelf, starts.get(), u.get()}, tasks);
  d_->launch(dev::BiquadZeroStateEnds<double>{u.get(), nullptr, L, k.highpass, ends.get()}, tasks);
  dsp::biquad_homogeneous_matrix(k.highpass, chunk, carry.m);
  d_->launch(carry, L.rows);
  d_->launch(dev::HighpassSegmentEnergies{u.get(), L, k.highpass, starts.get(), segment_frames, segments, energies.get()},
             tasks);
  for (size_t j = 0; j < out.size(); ++j) energies.download(out[j].data(), size_t(segments), j * size_t(segments));
}

std::vector<std::vector<double>> DeviceBackend::k_weighted_segment_energies(const AudioBuffer& audio,
                                                                            std::span<const int> channels,
                                                                            int64_t segment_frames) {
  return measure(audio, channels, segment_frames, kEnergies).energies;
}

Backend::MeterPasses DeviceBackend::meter_passes(const AudioBuffer& audio, std::span<const int> channels,
                                                 int64_t segment_frames) {
  return measure(audio, channels, segment_frames, kEnergies | kTruePeak | kSamplePeak);
}

Backend::MeterPasses DeviceBackend::measure(const AudioBuffer& audio, std::span<const int> channels,
                                            int64_t segment_frames, unsigned passes) {
  if (audio.frames() == 0 || audio.channel_count() == 0) {
    return measure_rows(nullptr, audio.channel_count(), audio.frames(), audio.sample_rate, channels, segment_frames, passes);
  }
  const Buffer<float> x = upload(audio);
  return measure_rows(x.get(), audio.channel_count(), audio.frames(), audio.sample_rate, channels, segment_frames, passes);
}

Backend::MeterPasses DeviceBackend::measure_rows(const float* x, int rows, int64_t n, double rate,
                                                 std::span<const int> channels, int64_t segment_frames,
                                                 unsigned passes) {
  if (passes & kEnergies) {
    if (segment_frames < 1) throw std::invalid_argument("k_weighted_segment_energies: segment_frames < 1");
    if (!(rate > 0.0)) throw std::invalid_argument("k_weighted_segment_energies: sample rate <= 0");
    for (int c : channels) {
      if (c < 0 || c >= rows) throw std::invalid_argument("k_weighted_segment_energies: channel index out of range");
    }
  }
  MeterPasses m;
  if (n == 0 || rows == 0) {
    m.energies.assign(channels.size(), {});
    return m;
  }
  if (passes & kEnergies) k_weighted_energies(x, n, rate, channels, segment_frames, m.energies);
  Buffer<double> profile;  // device memory the reduction reads until the sync
  std::vector<double> true_maxima, sample_maxima;
  if (passes & kTruePeak) {
    const int64_t positions = n + dsp::kTruePeakTapsPerPhase - 1;
    profile = Buffer<double>(*d_, size_t(positions));
    d_->launch(dev::TruePeakProfile{x, rows, n, profile.get()}, positions);
    max_of(profile.get(), positions, true_maxima);
  }
  if (passes & kSamplePeak) max_abs_of(x, int64_t(rows) * n, sample_maxima);
  sync();
  for (double v : true_maxima) m.true_peak = std::max(m.true_peak, v);
  for (double v : sample_maxima) m.sample_peak = std::max(m.sample_peak, v);
  return m;
}

const Buffer<Complex>& DeviceBackend::spectrum(std::span<const float> taps, int64_t k) {
  auto key = std::make_pair(std::vector<float>(taps.begin(), taps.end()), k);
  if (auto it = spectra_.find(key); it != spectra_.end()) return it->second;
  if (spectra_.size() >= kSpectraCached) spectra_.clear();
  const size_t bins = size_t(k / 2 + 1);
  // The taps go up as they are (floats) and are widened and zero-padded to K on the device.
  staging_floats_.emplace_back(taps.begin(), taps.end());
  Buffer<float> up(*d_, taps.size());
  up.upload(staging_floats_.back().data(), taps.size());
  Buffer<double> padded(*d_, size_t(k));
  d_->launch(dev::WidenPadded{up.get(), int64_t(taps.size()), padded.get()}, k);
  Buffer<dev::DoubleComplex> wide(*d_, bins);
  Buffer<Complex> out(*d_, bins);
  d_->rfft_double(padded.get(), wide.get(), int(k));
  d_->launch(dev::ScaleToFloat{wide.get(), 1.0 / double(k), out.get()}, int64_t(bins));
  return spectra_.emplace(std::move(key), std::move(out)).first->second;
}

void DeviceBackend::convolve(std::span<const float* const> x, int64_t n_in, int64_t offset,
                             std::span<const std::span<const float>> taps, std::span<float* const> y, int64_t n_out) {
  if (n_out <= 0 || x.empty()) return;
  if (taps.size() != x.size() || y.size() != x.size()) throw std::invalid_argument("convolve: one filter and output per channel");
  n_in = std::max<int64_t>(n_in, 0);
  // Channels grouped by filter length (one FFT size), shortest first; each group's rows up,
  // convolved, down.
  std::map<int64_t, std::vector<size_t>> by_length;
  for (size_t c = 0; c < x.size(); ++c) by_length[int64_t(taps[c].size())].push_back(c);
  for (const auto& [l, chans] : by_length) {
    const int rows = int(chans.size());
    Buffer<float> xin(*d_, size_t(rows) * size_t(n_in)), yout(*d_, size_t(rows) * size_t(n_out));
    std::vector<std::span<const float>> group_taps;
    for (int j = 0; j < rows; ++j) {
      xin.upload(x[chans[size_t(j)]], size_t(n_in), size_t(j) * size_t(n_in));
      group_taps.push_back(taps[chans[size_t(j)]]);
    }
    convolve_rows(xin.get(), rows, n_in, offset, group_taps, yout.get(), n_out);
    for (int j = 0; j < rows; ++j) yout.download(y[chans[size_t(j)]], size_t(n_out), size_t(j) * size_t(n_out));
  }
  sync();
}

void DeviceBackend::convolve_rows(const float* x, int rows, int64_t n_in, int64_t offset,
                                  std::span<const std::span<const float>> taps, float* y, int64_t n_out) {
  if (n_out <= 0 || rows == 0) return;
  if (int(taps.size()) != rows) throw std::invalid_argument("convolve_rows: one filter per row");
  const int64_t l = int64_t(taps[0].size());
  for (const auto& t : taps) {
    if (int64_t(t.size()) != l) throw std::invalid_argument("convolve_rows: filters of one length");
  }
  if (l == 1) {
    staging_floats_.emplace_back(size_t(rows));
    std::vector<float>& h = staging_floats_.back();
    for (int j = 0; j < rows; ++j) h[size_t(j)] = taps[size_t(j)][0];
    Buffer<float> hd(*d_, h.size());
    hd.upload(h.data(), h.size());
    d_->launch(dev::ScaleChannels{x, n_in, offset, n_out, hd.get(), y}, int64_t(rows) * n_out);
    return;
  }
  const dsp::OverlapSave os = dsp::overlap_save_for(l);
  const int64_t bins = os.k / 2 + 1;
  // Distinct filters (equal spans share one spectrum) and each row's filter.
  std::vector<std::span<const float>> filters;
  staging_ints_.emplace_back(size_t(rows));
  std::vector<int>& filter_of = staging_ints_.back();
  for (int j = 0; j < rows; ++j) {
    const auto& t = taps[size_t(j)];
    int idx = -1;
    for (size_t q = 0; q < filters.size(); ++q) {
      if (filters[q].data() == t.data() && filters[q].size() == t.size()) idx = int(q);
    }
    if (idx < 0) {
      idx = int(filters.size());
      filters.push_back(t);
    }
    filter_of[size_t(j)] = idx;
  }
  Buffer<Complex> spectra(*d_, filters.size() * size_t(bins));
  for (size_t q = 0; q < filters.size(); ++q) {
    const Buffer<Complex>& h = spectrum(filters[q], os.k);
    d_->copy(spectra.get() + q * size_t(bins), h.get(), size_t(bins) * sizeof(Complex));
  }
  Buffer<int> filter_dev(*d_, filter_of.size());
  filter_dev.upload(filter_of.data(), filter_of.size());

  const int64_t segments = os.segments(n_out);
  const int64_t total = segments * rows;
  const int64_t batch = std::min(total, std::max<int64_t>(1, options_.batch_samples / os.k));
  Buffer<float> frames(*d_, size_t(batch) * size_t(os.k));
  Buffer<Complex> spec(*d_, size_t(batch) * size_t(bins));
  for (int64_t first = 0; first < total; first += batch) {
    d_->launch(dev::GatherFrames{x, n_in, offset, os, segments, total, first, frames.get()}, batch * os.k);
    d_->rfft(frames.get(), spec.get(), int(os.k), int(batch));
    d_->launch(dev::MultiplySpectra{spec.get(), spectra.get(), filter_dev.get(), bins, segments, total, first},
               batch * bins);
    d_->irfft(spec.get(), frames.get(), int(os.k), int(batch));
    d_->launch(dev::ScatterOutputs{frames.get(), os, segments, total, first, n_out, y}, batch * os.hop);
  }
}

DynamicsStats DeviceBackend::PendingStats::value() const {
  if (done) return *done;
  DynamicsStats stats;
  double sum_all = 0.0;
  for (size_t j = 0; j < max.size(); ++j) {
    stats.max_gain_reduction_db = std::max(stats.max_gain_reduction_db, max[j]);
    sum_all += sum[j];
  }
  stats.mean_gain_reduction_db = count > 0.0 ? sum_all / count : 0.0;
  return stats;
}

DynamicsStats DeviceBackend::compress(AudioBuffer& audio, const dsp::CompressorParams& params) {
  // The RMS detector runs on the host (the device kernels read the per-sample magnitude).
  if (params.rms_detector) return host_->compress(audio, params);
  const int64_t n = audio.frames();
  if (n == 0 || audio.channel_count() == 0) return {};
  Buffer<float> x = upload(audio);
  PendingStats pending = compress_rows(x.get(), audio.channel_count(), n, audio.sample_rate, params);
  download_rows(x.get(), n, audio);
  sync();
  return pending.value();
}

DeviceBackend::PendingStats DeviceBackend::compress_rows(float* x, int channels, int64_t n, double rate,
                                                         const dsp::CompressorParams& params) {
  PendingStats out;
  if (n == 0 || channels == 0) {
    out.done = DynamicsStats{};
    return out;
  }
  if (params.rms_detector) {  // on the host: down, compressed, up
    AudioBuffer a(channels, n, rate);
    download_rows(x, n, a);
    sync();
    out.done = host_->compress(a, params);
    for (int c = 0; c < channels; ++c) {
      staging_floats_.push_back(std::move(a.channels[size_t(c)]));
      d_->upload(x + size_t(c) * size_t(n), staging_floats_.back().data(), size_t(n) * sizeof(float));
    }
    return out;
  }
  constexpr int64_t kBlock = dsp::kCompressorStatsBlock;
  const dsp::CompressorCoefficients k = dsp::prepare_compressor(params, rate);
  const int detectors = (k.stereo_link >= 1.0f || channels == 1) ? 1 : channels;
  Buffer<float> gr(*d_, size_t(detectors) * size_t(n)), smoothed(*d_, size_t(n));
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  out.block_max = Buffer<double>(*d_, size_t(detectors * blocks));
  out.block_sum = Buffer<double>(*d_, size_t(detectors * blocks));
  d_->launch(dev::CompressorCurve{x, channels, n, detectors, k, gr.get()}, n);
  for (int det = 0; det < detectors; ++det) {
    float* row = gr.get() + size_t(det) * size_t(n);
    run_recurrence(dsp::GainSmoother{row, k.alpha_attack, k.alpha_release}, smoothed.get(), n);
    d_->launch(dev::ReductionStatsBlocks{smoothed.get(), n, kBlock, out.block_max.get() + det * blocks,
                                         out.block_sum.get() + det * blocks},
               blocks);
    d_->launch(dev::CompressorGain{smoothed.get(), n, k.lookahead_frames, k.makeup_db, row}, n);
  }
  d_->launch(dev::CompressorApply{x, n, detectors, gr.get()}, int64_t(channels) * n);
  out.max.resize(out.block_max.size());
  out.sum.resize(out.block_sum.size());
  out.block_max.download(out.max.data(), out.max.size());
  out.block_sum.download(out.sum.data(), out.sum.size());
  out.count = double(n) * double(detectors);
  return out;
}

double DeviceBackend::limiter_peak(const float* x, int channels, int64_t n, double* profile) {
  if (!sinc_taps_.get()) {
    static float h[dsp::kSincFilterCount][dsp::kSincPhases][dsp::kSincMaxTaps];
    static const bool made = (dsp::sinc_taps(h), true);
    (void)made;
    sinc_taps_ = Buffer<float>(*d_, sizeof h / sizeof(float));
    sinc_taps_.upload(&h[0][0][0], sinc_taps_.size());  // static: valid until the sync
  }
  const int64_t positions = n + dsp::kLimiterSupport - 1;
  d_->launch(dev::LimiterProfile{x, channels, n, sinc_taps_.get(), profile}, positions);
  std::vector<double> maxima;
  max_of(profile, positions, maxima);
  sync();
  return *std::max_element(maxima.begin(), maxima.end());
}

LimiterStats DeviceBackend::limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params) {
  if (audio.frames() == 0 || audio.channel_count() == 0) {
    return limit_rows(nullptr, audio.channel_count(), audio.frames(), audio.sample_rate, params);
  }
  Buffer<float> x = upload(audio);
  return limit_rows(x.get(), audio.channel_count(), audio.frames(), audio.sample_rate, params, &audio);
}

LimiterStats DeviceBackend::limit_rows(float* x, int channels, int64_t n, double rate, const dsp::LimiterParams& params,
                                       AudioBuffer* download_to) {
  constexpr int kMaxPasses = dsp::kLimiterMaxPasses, kRegionRounds = dsp::kLimiterRegionRounds;
  constexpr double kMargin = dsp::kLimiterMargin;
  constexpr int64_t kBlock = dsp::kLimiterStatsBlock, kSupport = dsp::kLimiterSupport;
  LimiterStats stats;
  if (n == 0 || channels == 0) {
    stats.output_true_peak_dbtp = -HUGE_VAL;
    return stats;
  }
  const dsp::LimiterCoefficients k = dsp::prepare_limiter(params, rate);
  const int64_t positions = n + kSupport - 1, w = k.lookahead_frames;
  Buffer<double> peak(*d_, size_t(positions));
  double tp = limiter_peak(x, channels, n, peak.get());
  if (tp <= k.ceiling) {
    stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
    if (download_to) {  // the input's bits
      download_rows(x, n, *download_to);
      sync();
    }
    return stats;
  }
  Buffer<float> total(*d_, size_t(n));
  d_->launch(dev::Fill<float>{total.get(), 1.0f}, n);
  Buffer<double> support(*d_, size_t(n + w - 1)), h(*d_, size_t(n)), g(*d_, size_t(n));
  double c = k.ceiling * kMargin;
  while (stats.passes < kMaxPasses) {
    d_->launch(dev::RequiredGain{peak.get(), k.ceiling, c}, positions);
    d_->launch(dev::WindowMin{peak.get(), positions, kSupport, support.get()}, n + w - 1);
    d_->launch(dev::WindowMin{support.get(), n + w - 1, w, h.get()}, n);
    run_recurrence(dsp::LimiterRelease{h.get(), k.alpha_release}, g.get(), n);
    d_->launch(dev::BoxAverage{g.get(), w, dsp::box_scale(w), support.get(), h.get()}, n);
    d_->launch(dev::LimiterApply{x, n, h.get(), total.get()}, int64_t(channels) * n);
    ++stats.passes;
    tp = limiter_peak(x, channels, n, peak.get());
    if (stats.passes == 1 && tp > k.ceiling) stats.over_after_first_pass_db = dsp::linear_to_db(tp / k.ceiling);
    if (tp <= k.ceiling) break;
    c *= kMargin;
  }
  // The hard safety (kernels/cpu/limiter.cpp remove_overs): regions, then everything.
  while (tp > k.ceiling) {
    if (stats.safety_rounds < kRegionRounds) {
      d_->launch(dev::OverFactor{peak.get(), k.ceiling, kMargin}, positions);
      d_->launch(dev::WindowMin{peak.get(), positions, kSupport, h.get()}, n);
    } else {
      d_->launch(dev::Fill<double>{h.get(), k.ceiling * kMargin / tp}, n);
    }
    d_->launch(dev::LimiterApply{x, n, h.get(), total.get()}, int64_t(channels) * n);
    tp = limiter_peak(x, channels, n, peak.get());
    ++stats.safety_rounds;
    if (tp > k.ceiling && stats.safety_rounds > kRegionRounds) {
      throw std::logic_error("limiter: a reading is " + std::to_string(dsp::linear_to_db(tp / k.ceiling)) +
                             " dB over the ceiling after scaling the whole signal (internal error)");
    }
  }
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  Buffer<double> bmax(*d_, size_t(blocks)), bsum(*d_, size_t(blocks));
  d_->launch(dev::TotalReductionBlocks{total.get(), n, kBlock, bmax.get(), bsum.get()}, blocks);
  std::vector<double> hm(bmax.size()), hs(bsum.size());
  bmax.download(hm.data(), hm.size());
  bsum.download(hs.data(), hs.size());
  if (download_to) download_rows(x, n, *download_to);
  sync();
  double mx = 0.0, sum = 0.0;
  for (size_t j = 0; j < hm.size(); ++j) {
    mx = std::max(mx, hm[j]);
    sum += hs[j];
  }
  stats.max_gain_reduction_db = mx;
  stats.mean_gain_reduction_db = sum / double(n);
  stats.output_true_peak_dbtp = dsp::linear_to_db(tp);
  return stats;
}

std::unique_ptr<Backend> make_device_backend(std::string name, std::unique_ptr<dev::Device> device, DeviceBackendOptions options,
                                             cpu::ThreadPool* host_pool) {
  std::unique_ptr<cpu::ThreadPool> owned;
  if (!host_pool) {
    owned = std::make_unique<cpu::ThreadPool>(1);
    host_pool = owned.get();
  }
  return std::make_unique<DeviceBackend>(std::move(name), std::move(device), std::make_unique<CpuBackend>(*host_pool),
                                         options, std::move(owned));
}

std::unique_ptr<Backend> make_cuda_host_backend(cpu::ThreadPool& pool, DeviceBackendOptions options) {
  return make_device_backend("cuda-host", dev::make_host_device(pool), options, &pool);
}

}  // namespace lq
