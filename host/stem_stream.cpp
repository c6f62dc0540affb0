#include "host/stem_stream.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "host/audio_io.hpp"
#include "host/mixing.hpp"
#include "host/stage_timer.hpp"
#include "kernels/dsp/overlap_save.hpp"

namespace lq {

using nlohmann::json;

namespace {

constexpr int64_t kStemSpan = 1 << 19;  // about 11 s at 48 kHz, rounded to the EQ's hop

// The stem's own channels at the session rate, span after span: decoded from the file as they are
// needed, or, for a file at another rate, converted whole first.
class StemSource {
 public:
  StemSource(const StemSpec& spec, double file_rate, double rate) {
    if (file_rate == rate) {
      reader_.emplace(spec.file);
      info_ = reader_->info();
      frames_ = info_.frames;
    } else {
      whole_ = read_audio(spec.file, &info_);
      whole_ = resample(whole_, rate);
      frames_ = whole_.frames();
    }
    raw_ = AudioBuffer(info_.channels, 0, rate);
  }

  // The stem's next n frames (silence past its end) in the file's channels: raw()'s first n.
  void next(int64_t n) {
    const int64_t have = std::clamp<int64_t>(frames_ - pos_, 0, n);
    if (raw_.frames() < n) raw_.resize_frames(n);
    int64_t got = have;
    if (reader_) {
      got = reader_->read(raw_, 0, have);
      if (got < have) reader_->finish();  // fewer frames than declared: throws the file's problem
    } else {
      for (int c = 0; c < raw_.channel_count(); ++c) {
        const auto& src = whole_.channels[size_t(c)];
        std::copy_n(src.begin() + pos_, have, raw_.channels[size_t(c)].begin());
      }
    }
    for (auto& ch : raw_.channels) std::fill(ch.begin() + got, ch.begin() + n, 0.0f);
    pos_ += n;
  }
  const AudioBuffer& raw() const { return raw_; }

  // After the last frame: the end-of-file checks, and the file's facts with its peak.
  const AudioFileInfo& finish() {
    if (reader_) {
      reader_->finish();
      info_ = reader_->info();
    }
    return info_;
  }

 private:
  std::optional<AudioReader> reader_;
  AudioBuffer whole_, raw_;
  AudioFileInfo info_;
  int64_t frames_ = 0, pos_ = 0;
};

}  // namespace

StemReport stream_stem(const StemSpec& spec, double file_rate, double rate, int64_t song_frames,
                       Backend& backend, const StemSink& sink) {
  StemReport out;
  std::optional<StemSource> source;
  {
    StageTimer t(out.timing, "decode");
    source.emplace(spec, file_rate, rate);
  }

  const std::shared_ptr<const EqDesign> design = eq_design_for(spec.eq, rate);
  const int64_t taps = design ? int64_t(design->taps.size()) : 1;
  const int64_t delay = (taps - 1) / 2, before = taps - 1 - delay;  // EQ input frames around a span
  std::unique_ptr<CompressorStream> comp;
  if (spec.compressor) comp = backend.compressor_stream(*spec.compressor, rate, 2);
  const bool gather = spec.compressor && !comp;  // compress the whole stem at the end
  const int64_t ahead = comp ? comp->lookahead_frames() : 0;
  const int64_t hop = design ? dsp::overlap_save_for(taps).hop : 1;
  const int64_t span = std::max<int64_t>(1, kStemSpan / hop) * hop;
  const int64_t after = delay + ahead;

  // win: the stereo input of span [t0, t1), stem frames [t0 - before, t1 + look + delay) (zeros
  // before the stem's start; the source gives zeros past its end); consecutive windows share
  // their last before + look + delay frames.
  AudioBuffer win(2, span + before + after, rate), y(2, 0, rate), whole(2, gather ? song_frames : 0, rate);
  const std::vector<std::span<const float>> eq_taps(2, design ? std::span<const float>(design->taps)
                                                              : std::span<const float>());
  for (auto& ch : win.channels) std::fill(ch.begin(), ch.begin() + before, 0.0f);
  int64_t filled = before;  // frames of win holding the window's input
  for (int64_t t0 = 0; t0 < song_frames; t0 += span) {
    const int64_t len = std::min(span, song_frames - t0);
    const int64_t look = std::min(ahead, song_frames - t0 - len);
    const int64_t n_in = before + len + look + delay;
    if (filled < n_in) {
      {
        StageTimer t(out.timing, "decode");
        source->next(n_in - filled);
      }
      to_stereo_into(source->raw(), n_in - filled, spec.pan, spec.gain_db, win, filled);
      filled = n_in;
    }
    y.resize_frames(len + look);
    if (design) {
      const std::vector<const float*> x = {win.channels[0].data(), win.channels[1].data()};
      const std::vector<float*> yp = {y.channels[0].data(), y.channels[1].data()};
      backend.convolve(x, n_in, taps - 1, eq_taps, yp, len + look);
    } else {
      for (int c = 0; c < 2; ++c) std::copy_n(win.channels[size_t(c)].begin(), len + look, y.channels[size_t(c)].begin());
    }
    if (comp) comp->process(y, len);
    if (gather) {
      for (int c = 0; c < 2; ++c) std::copy_n(y.channels[size_t(c)].begin(), len, whole.channels[size_t(c)].begin() + t0);
    } else {
      sink(t0, y, len);
    }
    if (t0 + len < song_frames) {  // the next window starts at this one's frame `span`
      for (auto& ch : win.channels) std::copy(ch.begin() + span, ch.begin() + filled, ch.begin());
      filled -= span;
    }
  }
  AudioFileInfo info;
  {
    StageTimer t(out.timing, "decode");
    info = source->finish();
  }
  source.reset();
  out.report["eq"] = design ? eq_report(*design) : json(nullptr);
  if (gather) {
    out.report["compressor"] = dynamics_json(backend.compress(whole, *spec.compressor));
    sink(0, whole, song_frames);
  } else if (comp) {
    out.report["compressor"] = dynamics_json(comp->stats());
  }
  warn_if_eq_off(out.report["eq"], "stem '" + spec.name + "'", out.warnings);
  out.report["name"] = spec.name;
  out.report["group"] = spec.group;

  out.input = {{"stem", spec.name},
               {"file", info.path.string()},
               {"format", info.format},
               {"sample_rate", info.sample_rate},
               {"channels", info.channels},
               {"frames", info.frames},
               {"duration_s", double(info.frames) / info.sample_rate},
               {"peak_dbfs", std::isfinite(info.peak_dbfs) ? json(info.peak_dbfs) : json(nullptr)},
               {"group", spec.group}};
  if (info.sample_rate != rate) {
    out.input["resampled_to"] = rate;
    out.warnings.push_back("stem '" + spec.name + "' is at " + std::to_string(int(info.sample_rate)) +
                           " Hz: converted to " + std::to_string(int(rate)) + " Hz");
  }
  return out;
}

}  // namespace lq
