#include "host/bus_stream.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <vector>

#include "host/mixing.hpp"
#include "kernels/dsp/common.hpp"
#include "kernels/dsp/overlap_save.hpp"

namespace lq {

namespace {

constexpr int64_t kReturnSpan = 1 << 20;  // output frames per convolution call of a reverb return

// The chain's buffers keep their length from span to span (a buffer that grows is zero-filled
// where it grows, which per span would cost as much as the span's own writes): their first
// `frames` frames are the live ones.
void move_to_front(AudioBuffer& a, int64_t from, int64_t frames) {
  if (from <= 0) return;
  for (auto& ch : a.channels) std::copy(ch.begin() + from, ch.begin() + from + frames, ch.begin());
}
void hold(AudioBuffer& a, int64_t frames) {
  if (a.frames() < frames) a.resize_frames(frames);
}

}  // namespace

void RollingBus::ensure(int64_t to) {
  if (to - base_ > buf_.frames()) buf_.resize_frames(to - base_);
}

void RollingBus::add(int64_t at, const AudioBuffer& src, int64_t src_at, int64_t frames, float gain) {
  if (at < base_ || at + frames > length_) throw std::logic_error("RollingBus::add outside the held frames");
  ensure(at + frames);
  for (int c = 0; c < 2; ++c) {
    accumulate(buf_.channels[size_t(c)].data() + (at - base_),
               src.channels[size_t(std::min(c, src.channel_count() - 1))].data() + src_at, frames, gain);
  }
}

const float* RollingBus::data(int c, int64_t from, int64_t to) {
  if (from < base_) throw std::logic_error("RollingBus::data before the held frames");
  ensure(to);
  return buf_.channels[size_t(c)].data() + (from - base_);
}

void RollingBus::drop_before(int64_t frame) {
  const int64_t dead = std::min(frame - base_, buf_.frames());
  // Moved only once the dead frames are as many as the live ones: each frame is moved about once.
  if (dead <= 0 || dead < buf_.frames() - dead) return;
  const int64_t live = buf_.frames() - dead;
  move_to_front(buf_, dead, live);
  buf_.resize_frames(live);
  base_ += dead;
}

ChainStream::ChainStream(std::shared_ptr<const EqDesign> design, const std::optional<dsp::CompressorParams>& comp,
                         int64_t length, double rate, Backend& backend)
    : design_(std::move(design)), backend_(backend), length_(length), window_(2, 0, rate), queue_(2, 0, rate) {
  if (design_) {
    taps_ = int64_t(design_->taps.size());
    delay_ = (taps_ - 1) / 2;
    before_ = taps_ - 1 - delay_;
    hop_ = dsp::overlap_save_for(taps_).hop;
    window_.resize_frames(before_);  // the frames before the signal's first: zeros
  }
  if (comp) {
    comp_ = backend.compressor_stream(*comp, rate, 2);
    if (!comp_) throw std::logic_error("the backend has no compressor stream");
    comp_->record_steps(std::max<int64_t>(1, std::llround(rate / 10.0)));  // the report's 100 ms steps
    ahead_ = comp_->lookahead_frames();
  }
}

int64_t ChainStream::eq_end_for(int64_t out_end) const {
  if (out_end <= eq_end_) return eq_end_;
  if (!design_) return out_end;
  const int64_t hops = (out_end - eq_end_ + hop_ - 1) / hop_;
  return std::min(length_, eq_end_ + hops * hop_);
}

int64_t ChainStream::input_needed(int64_t n) const {
  const int64_t look = comp_ ? std::min(ahead_, length_ - done_ - n) : 0;
  const int64_t end = eq_end_for(done_ + n + look);
  if (end == eq_end_) return in_end_;
  return std::min(length_, end + delay_);
}

AudioBuffer& ChainStream::next(int64_t n, const ChainInput& input) {
  if (n < 0 || done_ + n > length_) throw std::logic_error("ChainStream::next past the signal's end");
  move_to_front(queue_, pending_, eq_end_ - done_);  // queue_ now starts at output frame done_
  pending_ = 0;
  const int64_t look = comp_ ? std::min(ahead_, length_ - done_ - n) : 0;
  const int64_t end = eq_end_for(done_ + n + look);
  if (end > eq_end_) {
    const int64_t at = eq_end_ - done_;
    hold(queue_, end - done_);
    if (!design_) {
      input(queue_, at, eq_end_, end - eq_end_);
      in_end_ = end;
    } else {
      // window_ holds input frames [eq_end_ - before_, in_end_): pull up to what the hops read.
      const int64_t start = eq_end_ - before_, in_to = std::min(length_, end + delay_);
      if (in_to > in_end_) {
        const int64_t w = in_end_ - start;
        hold(window_, in_to - start);
        input(window_, w, in_end_, in_to - in_end_);
        in_end_ = in_to;
      }
      const float* x[2] = {window_.channels[0].data(), window_.channels[1].data()};
      float* y[2] = {queue_.channels[0].data() + at, queue_.channels[1].data() + at};
      const std::span<const float> h(design_->taps);
      const std::span<const float> taps[2] = {h, h};
      backend_.convolve(x, in_end_ - start, taps_ - 1, taps, y, end - eq_end_);
      move_to_front(window_, end - eq_end_, in_end_ - end + before_);  // the next hops' window: from end - before_
    }
    eq_end_ = end;
  }
  if (comp_) {
    // The compressor reads up to n + look-ahead frames: near the end, no frames past the signal's.
    if (eq_end_ - done_ < n + ahead_) queue_.resize_frames(eq_end_ - done_);
    comp_->process(queue_, n);
  }
  pending_ = n;
  done_ += n;
  return queue_;
}

ReverbReturn::ReverbReturn(const AudioBuffer& ir, int64_t input_frames, int channels, double wet_db, Backend& backend)
    : backend_(backend), n_(input_frames), l_(ir.frames()), out_n_(input_frames + ir.frames() - 1),
      y_(channels, 0, ir.sample_rate) {
  const float wet = static_cast<float>(dsp::db_to_linear(wet_db));
  scaled_.resize(size_t(ir.channel_count()));
  for (size_t k = 0; k < scaled_.size(); ++k) {
    scaled_[k].resize(ir.channels[k].size());
    for (size_t i = 0; i < ir.channels[k].size(); ++i) scaled_[k][i] = wet * ir.channels[k][i];
  }
  for (int c = 0; c < channels; ++c) taps_.emplace_back(scaled_[size_t(std::min(c, ir.channel_count() - 1))]);
  const int64_t hop = dsp::overlap_save_for(l_).hop;
  span_ = std::max<int64_t>(1, kReturnSpan / hop) * hop;
}

const AudioBuffer& ReverbReturn::next(std::span<const float* const> x) {
  const int64_t len = next_frames(), lo = input_from(), hi = input_to();
  y_.resize_frames(len);
  std::vector<float*> y;
  for (auto& ch : y_.channels) y.push_back(ch.data());
  backend_.convolve(x, hi - lo, done_ - lo, taps_, y, len);
  done_ += len;
  return y_;
}

}  // namespace lq
