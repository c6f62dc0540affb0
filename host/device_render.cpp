#include "host/device_render.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <optional>
#include <utility>
#include <vector>

#include "host/audio_io.hpp"
#include "host/mixing.hpp"
#include "host/stage_timer.hpp"
#include "host/stem_stream.hpp"
#include "kernels/dsp/common.hpp"

namespace lq {

using dev::Buffer;
using nlohmann::json;

namespace {

constexpr int64_t kStagingBytes = int64_t{256} << 20;  // stems' host copies held before a sync

struct DecodedStem {
  AudioBuffer audio;  // at the processing rate, the file's channels
  AudioFileInfo info;
};

DecodedStem decode_stem(const StemSpec& spec, double file_rate, double rate) {
  DecodedStem d;
  d.audio = read_audio(spec.file, &d.info);
  if (file_rate != rate) d.audio = resample(d.audio, rate);
  return d;
}

}  // namespace

int64_t DeviceSong::memory_estimate(const MixGraph& graph, int64_t batch_samples) {
  const int64_t n = graph.master_frames, frame = 2 * int64_t(sizeof(float));
  int64_t buses = n * frame;  // the master
  for (const auto& g : graph.groups) buses += g.live ? g.length * frame : 0;
  for (const auto& r : graph.reverbs) buses += r.runs ? r.input_frames * frame : 0;
  int64_t widest = 0;  // the longest reverb return
  for (const auto& r : graph.reverbs) widest = std::max(widest, r.runs ? r.output_frames : 0);
  // A convolution's frames and their spectra (kernels/dsp/overlap_save.hpp: K >= 2 hops).
  const int64_t convolution = 9 * batch_samples + (int64_t{16} << 20);
  // A chain: its input, the EQ's output, the compressor's gain rows and smoothing (12 bytes a
  // frame); a reverb: its return.
  const int64_t chain = std::max(n * (2 * frame + 12), widest * frame) + convolution;
  // The finishing: the master, the latest, the limiter's readings, supports, gains (36 bytes a frame).
  const int64_t finishing = n * (2 * frame + 36);
  return std::max(buses + chain, finishing) + (int64_t{1} << 20);
}

Buffer<float> DeviceSong::zeros(int64_t n) {
  Buffer<float> b(backend_.dev(), size_t(n));
  if (n > 0) backend_.dev().launch(dev::Fill<float>{b.get(), 0.0f}, n);
  return b;
}

Buffer<float> DeviceSong::eq(const Buffer<float>& x, const EqDesign& design, int64_t n) {
  Buffer<float> y(backend_.dev(), size_t(2 * n));
  const std::span<const float> taps(design.taps);
  const std::span<const float> rows[2] = {taps, taps};
  backend_.convolve_rows(x.get(), 2, n, (int64_t(design.taps.size()) - 1) / 2, rows, y.get(), n);
  return y;
}

void DeviceSong::add(Buffer<float>& dst, int64_t dst_frames, int64_t at, const Buffer<float>& src, int64_t src_frames,
                     int64_t frames, float gain) {
  if (frames > 0) backend_.dev().launch(dev::AddScaled{dst.get(), dst_frames, at, src.get(), src_frames, frames, gain}, 2 * frames);
}

MixResult DeviceSong::mix(const Session& session, std::span<const int> stem_rates, int64_t song_frames,
                          const std::map<std::string, AudioBuffer>& irs, bool keep_groups, json& timing,
                          json& warnings) {
  dev::Device& d = backend_.dev();
  const MixGraph graph = mix_graph(session, rate_, song_frames, irs);
  frames_ = graph.master_frames;
  master_ = zeros(2 * frames_);
  std::vector<Buffer<float>> group_bus(graph.groups.size()), send_bus(graph.reverbs.size());
  for (size_t g = 0; g < graph.groups.size(); ++g) {
    if (graph.groups[g].live) group_bus[g] = zeros(2 * graph.groups[g].length);
  }
  for (size_t k = 0; k < graph.reverbs.size(); ++k) {
    if (graph.reverbs[k].runs) send_bus[k] = zeros(2 * graph.reverbs[k].input_frames);
  }
  // Compressor figures and files' facts, read after the last sync.
  std::vector<DeviceBackend::PendingStats> stem_comp(session.stems.size()), group_comp(graph.groups.size());
  std::vector<AudioFileInfo> infos(session.stems.size());
  std::vector<std::shared_ptr<const EqDesign>> stem_eq(session.stems.size()), group_eq(graph.groups.size());

  // Stems in session order, each decoded (on a thread, one stem ahead) and uploaded once.
  std::vector<AudioBuffer> held;  // host copies uploads read until the next sync
  int64_t held_bytes = 0;
  auto decode = [&](size_t i) {
    return std::async(std::launch::async, [&session, &stem_rates, i, rate = rate_] {
      return decode_stem(session.stems[i], double(stem_rates[i]), rate);
    });
  };
  std::future<DecodedStem> next = session.stems.empty() ? std::future<DecodedStem>() : decode(0);
  for (size_t i = 0; i < session.stems.size(); ++i) {
    DecodedStem stem;
    {
      StageTimer t(timing, "decode");
      stem = next.get();  // the first problem in session order
    }
    if (i + 1 < session.stems.size()) next = decode(i + 1);
    StageTimer t(timing, "stems");
    const StemSpec& spec = session.stems[i];
    infos[i] = stem.info;
    const int rows = stem.audio.channel_count();
    const int64_t in_frames = stem.audio.frames();
    Buffer<float> stereo(d, size_t(2 * song_frames));
    {
      Buffer<float> raw(d, size_t(rows) * size_t(in_frames));
      for (int c = 0; c < rows; ++c) raw.upload(stem.audio.channels[size_t(c)].data(), size_t(in_frames), size_t(c) * size_t(in_frames));
      const auto [gl, gr] = stereo_gains(rows, spec.pan, spec.gain_db);
      d.launch(dev::PanGain{raw.get(), rows, in_frames, song_frames, gl, gr, stereo.get()}, 2 * song_frames);
    }
    held_bytes += int64_t(rows) * in_frames * int64_t(sizeof(float));
    held.push_back(std::move(stem.audio));
    stem_eq[i] = eq_design_for(spec.eq, rate_);
    if (stem_eq[i]) stereo = eq(stereo, *stem_eq[i], song_frames);
    if (spec.compressor) stem_comp[i] = backend_.compress_rows(stereo.get(), 2, song_frames, rate_, *spec.compressor);
    for (const auto& [k, gain] : graph.stem_sends[i]) add(send_bus[k], graph.reverbs[k].input_frames, 0, stereo, song_frames, song_frames, gain);
    const size_t g = graph.stem_group[i];
    add(group_bus[g], graph.groups[g].length, 0, stereo, song_frames, song_frames, 1.0f);
    if (held_bytes >= kStagingBytes) {
      backend_.sync();
      held.clear();
      held_bytes = 0;
    }
  }

  // A reverb's return (its send bus convolved with the IR at its wet level) into dst at its predelay.
  auto run_reverb = [&](size_t k, Buffer<float>& dst, int64_t dst_frames) {
    StageTimer t(timing, "reverbs");
    const MixGraph::Reverb& r = graph.reverbs[k];
    const AudioBuffer& ir = irs.at(session.reverbs[k].name);
    const float wet = static_cast<float>(dsp::db_to_linear(session.reverbs[k].wet_db));
    std::vector<std::vector<float>> scaled(size_t(ir.channel_count()));
    for (size_t c = 0; c < scaled.size(); ++c) {
      scaled[c].resize(ir.channels[c].size());
      for (size_t j = 0; j < scaled[c].size(); ++j) scaled[c][j] = wet * ir.channels[c][j];
    }
    const std::span<const float> taps[2] = {scaled[0], scaled[std::min<size_t>(1, scaled.size() - 1)]};
    Buffer<float> ret(d, size_t(2 * r.output_frames));
    backend_.convolve_rows(send_bus[k].get(), 2, r.input_frames, 0, taps, ret.get(), r.output_frames);
    add(dst, dst_frames, r.predelay, ret, r.output_frames, r.output_frames, 1.0f);
    send_bus[k] = {};
  };
  for (size_t k = 0; k < graph.reverbs.size(); ++k) {
    const MixGraph::Reverb& r = graph.reverbs[k];
    if (r.runs && r.target >= 0) run_reverb(k, group_bus[size_t(r.target)], graph.groups[size_t(r.target)].length);
  }

  MixResult out;
  for (size_t g = 0; g < graph.groups.size(); ++g) {
    const MixGraph::Group& grp = graph.groups[g];
    if (!grp.live) continue;
    StageTimer t(timing, "groups");
    const GroupSpec& spec = session.groups[g];
    const int64_t n = grp.length;
    Buffer<float> y = std::move(group_bus[g]);
    group_eq[g] = eq_design_for(spec.eq, rate_);
    if (group_eq[g]) y = eq(y, *group_eq[g], n);
    if (spec.compressor) group_comp[g] = backend_.compress_rows(y.get(), 2, n, rate_, *spec.compressor);
    if (spec.width != 1.0) d.launch(dev::Width{y.get(), n, static_cast<float>(spec.width)}, n);
    if (spec.gain_db != 0.0) d.launch(dev::Scale{y.get(), static_cast<float>(dsp::db_to_linear(spec.gain_db))}, 2 * n);
    for (const auto& [k, gain] : grp.sends) add(send_bus[k], graph.reverbs[k].input_frames, 0, y, n, n, gain);
    add(master_, frames_, 0, y, n, n, 1.0f);
    if (keep_groups) {
      out.exported_groups.emplace_back(spec.name, AudioBuffer(2, n, rate_));
      backend_.download_rows(y.get(), n, out.exported_groups.back().second);
    }
  }
  for (size_t k = 0; k < graph.reverbs.size(); ++k) {
    if (graph.reverbs[k].runs && graph.reverbs[k].target < 0) run_reverb(k, master_, frames_);
  }
  backend_.sync();  // the figures and kept groups are in place
  held.clear();

  for (size_t i = 0; i < session.stems.size(); ++i) {
    StemReport r;
    const DynamicsStats comp = stem_comp[i].value();
    stem_report(session.stems[i], infos[i], rate_, stem_eq[i].get(), session.stems[i].compressor ? &comp : nullptr, r);
    out.inputs.push_back(std::move(r.input));
    out.stems.push_back(std::move(r.report));
    for (auto& w : r.warnings) warnings.push_back(std::move(w));
  }
  for (size_t g = 0; g < graph.groups.size(); ++g) {
    if (!graph.groups[g].live) continue;
    const DynamicsStats comp = group_comp[g].value();
    out.groups.push_back(group_report(session, session.groups[g], group_eq[g].get(), session.groups[g].compressor ? &comp : nullptr));
  }
  return out;
}

DeviceSong::MasterChain DeviceSong::process_master(const MasterSpec& spec, int64_t song_frames, int64_t cap_frames) {
  dev::Device& d = backend_.dev();
  constexpr int64_t kBlock = 4096;
  MasterChain out;
  std::vector<double> mix_max, chain_max;
  backend_.max_abs_of(master_.get(), 2 * frames_, mix_max);
  const auto design = eq_design_for(spec.eq, rate_);
  out.eq = design ? eq_report(*design) : json(nullptr);
  if (design) master_ = eq(master_, *design, frames_);
  DeviceBackend::PendingStats comp;
  if (spec.compressor) comp = backend_.compress_rows(master_.get(), 2, frames_, rate_, *spec.compressor);
  backend_.max_abs_of(master_.get(), 2 * frames_, chain_max);
  // trim_tail: the last frame after the song above -90 dBFS.
  const int64_t tail = frames_ - song_frames, blocks = (tail + kBlock - 1) / kBlock;
  std::vector<int64_t> last(static_cast<size_t>(blocks));
  Buffer<int64_t> last_dev(d, size_t(blocks));
  if (blocks > 0) {
    const float floor = static_cast<float>(dsp::db_to_linear(-90.0));
    d.launch(dev::LastAboveBlocks{master_.get(), 2, frames_, song_frames, tail, kBlock, floor, last_dev.get()}, blocks);
    last_dev.download(last.data(), last.size());
  }
  backend_.sync();
  auto finite = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
  };
  out.mix_finite = finite(mix_max);
  out.chain_finite = finite(chain_max);
  if (spec.compressor) out.compressor = dynamics_json(comp.value());
  int64_t end = song_frames;  // one past the last frame above the floor
  for (const int64_t f : last) end = std::max(end, f + 1);
  const int64_t keep = std::min(end - song_frames, cap_frames);
  const int64_t fade = std::min<int64_t>(keep, std::lround(0.05 * rate_));
  if (fade > 0) d.launch(dev::TailFade{master_.get(), frames_, song_frames + keep, fade}, 2 * fade);
  if (song_frames + keep != frames_) {
    const int64_t n = song_frames + keep;
    Buffer<float> kept = zeros(2 * n);
    const int64_t copied = std::min(n, frames_);
    for (int c = 0; c < 2; ++c) d.copy(kept.get() + c * n, master_.get() + c * frames_, size_t(copied) * sizeof(float));
    master_ = std::move(kept);
    frames_ = n;
  }
  out.tail_frames = keep;
  return out;
}

AudioBuffer DeviceSong::download() {
  AudioBuffer a(2, frames_, rate_);
  backend_.download_rows(master_.get(), frames_, a);
  backend_.sync();
  return a;
}

LoudnessMeasurement DeviceSong::measure() {
  return measure_loudness(2, frames_, rate_, [&](std::span<const int> used, int64_t segment) {
    return backend_.measure_rows(master_.get(), 2, frames_, rate_, used, segment,
                                 DeviceBackend::kEnergies | DeviceBackend::kTruePeak | DeviceBackend::kSamplePeak);
  });
}

cpu::LimiterStats DeviceSong::limit(double gain_db, const dsp::LimiterParams& lp, AudioBuffer* download_to) {
  latest_ = {};  // the previous latest goes back first: one copy of the master at a time
  latest_ = Buffer<float>(backend_.dev(), size_t(2 * frames_));
  backend_.dev().copy(latest_.get(), master_.get(), size_t(2 * frames_) * sizeof(float));
  if (gain_db != 0.0) {  // apply_gain's
    backend_.dev().launch(dev::Scale{latest_.get(), static_cast<float>(dsp::db_to_linear(gain_db))}, 2 * frames_);
  }
  return backend_.limit_rows(latest_.get(), 2, frames_, rate_, lp, download_to);
}

double DeviceSong::latest_loudness() {
  return integrated_loudness(2, frames_, rate_, [&](std::span<const int> used, int64_t segment) {
    return backend_.measure_rows(latest_.get(), 2, frames_, rate_, used, segment, DeviceBackend::kEnergies);
  });
}

AudioBuffer DeviceSong::download_latest() {
  AudioBuffer a(2, frames_, rate_);
  backend_.download_rows(latest_.get(), frames_, a);
  backend_.sync();
  return a;
}

}  // namespace lq
