#include "host/stem_stream.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "host/audio_io.hpp"
#include "host/mixing.hpp"
#include "host/stage_timer.hpp"
#include "kernels/dsp/common.hpp"
#include "kernels/dsp/overlap_save.hpp"

namespace lq {

using nlohmann::json;

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
    if (raw_.frames() < n) raw_.resize_frames(n);
    next_into(n, raw_, 0);
  }
  // The same into out's frames [at, at + n) (out has the file's channels and is long enough).
  void next_into(int64_t n, AudioBuffer& out, int64_t at) {
    const int64_t have = std::clamp<int64_t>(frames_ - pos_, 0, n);
    int64_t got = have;
    if (reader_) {
      got = reader_->read(out, at, have);
      if (got < have) reader_->finish();  // fewer frames than declared: throws the file's problem
    } else {
      for (int c = 0; c < out.channel_count(); ++c) {
        const auto& src = whole_.channels[size_t(c)];
        std::copy_n(src.begin() + pos_, have, out.channels[size_t(c)].begin() + at);
      }
    }
    for (auto& ch : out.channels) std::fill(ch.begin() + at + got, ch.begin() + at + n, 0.0f);
    pos_ += n;
  }
  int channels() const { return info_.channels; }
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

void stem_report(const StemSpec& spec, const AudioFileInfo& info, double rate, const EqDesign* design,
                 const DynamicsStats* comp, StemReport& out) {
  out.report["eq"] = design ? eq_report(*design) : json(nullptr);
  if (comp) out.report["compressor"] = dynamics_json(*comp);
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
}

StemStream::StemStream(const StemSpec& spec, double file_rate, double rate, int64_t song_frames, Backend& backend)
    : spec_(spec), rate_(rate), chain_(eq_design_for(spec.eq, rate), spec.compressor, song_frames, rate, backend) {
  StageTimer t(out_.timing, "decode");
  source_ = std::make_unique<StemSource>(spec, file_rate, rate);
}

StemStream::~StemStream() = default;

const AudioBuffer& StemStream::next(int64_t n) {
  // A stereo stem at unity gain and centred is its own stereo bus: decoded straight into it (the
  // same floats as to_stereo_into's * 1), one copy fewer.
  const bool direct = source_->channels() == 2 && spec_.pan == 0.0 && dsp::db_to_linear(spec_.gain_db) == 1.0;
  return chain_.next(n, [&](AudioBuffer& dst, int64_t at, int64_t, int64_t frames) {
    {
      StageTimer t(out_.timing, "decode");
      if (direct) {
        source_->next_into(frames, dst, at);
      } else {
        source_->next(frames);
      }
    }
    if (!direct) to_stereo_into(source_->raw(), frames, spec_.pan, spec_.gain_db, dst, at);
  });
}

StemReport StemStream::finish() {
  StemReport out = std::move(out_);
  AudioFileInfo info;
  {
    StageTimer t(out.timing, "decode");
    info = source_->finish();
  }
  source_.reset();
  const DynamicsStats comp = chain_.compressor() ? chain_.compressor()->stats() : DynamicsStats{};
  stem_report(spec_, info, rate_, chain_.design(), chain_.compressor() ? &comp : nullptr, out);
  if (chain_.compressor()) out.gain_reduction_steps = chain_.compressor()->step_reductions();
  return out;
}

}  // namespace lq
