// The pieces a song is mixed from in spans (docs/architecture.md "Stems", "Groups and reverbs"):
// a bus that holds only the frames still to be read, and a chain (linear-phase EQ, then compressor)
// over a signal fed in order. No piece holds a signal of the song's length.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "host/backend.hpp"
#include "host/eq_design.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/dsp/dynamics_params.hpp"

namespace lq {

// A stereo bus of `length` frames addressed by absolute frame, holding only the frames from
// base(): frames are added in any order at or after base(), read as zero where nothing was added,
// and dropped from the front when no longer needed.
class RollingBus {
 public:
  RollingBus() = default;
  RollingBus(int64_t length, double rate) : length_(length), buf_(2, 0, rate) {}

  int64_t length() const { return length_; }
  int64_t base() const { return base_; }
  // bus[at + i] += gain * src[src_at + i] for i < frames (at >= base(), at + frames <= length());
  // a mono src feeds both channels. Adds to frames already held (ensure) change no buffer: such
  // adds to disjoint frames may run in parallel.
  void add(int64_t at, const AudioBuffer& src, int64_t src_at, int64_t frames, float gain = 1.0f);
  // Frames [base(), to) are held (zeros where nothing was added).
  void ensure(int64_t to);
  // Channel c's frames from `from` (>= base()), with frames up to `to` present (zeros where
  // nothing was added): valid until the next add, ensure or drop.
  const float* data(int c, int64_t from, int64_t to);
  // Frames before `frame` are no longer needed.
  void drop_before(int64_t frame);

 private:
  int64_t length_ = 0, base_ = 0;
  AudioBuffer buf_;  // buf_ frame i is bus frame base_ + i
};

// Writes the chain input's stereo frames [from, from + frames) into dst's frames [at, at + frames);
// called in order of `from`, covering each input frame once.
using ChainInput = std::function<void(AudioBuffer& dst, int64_t at, int64_t from, int64_t frames)>;

// Linear-phase EQ (latency compensated: output frame n = input frame n) then compressor over a
// stereo signal of `length` frames, fed and read in order in spans of any length. The same bits
// as apply_eq and Backend::compress over the whole signal: the EQ runs in whole overlap-save hops
// counted from frame 0 (its output queued until read), so its transform frames are those of one
// call over the whole, and the compressor stream carries its state exactly.
class ChainStream {
 public:
  // design null: no EQ; comp empty: no compressor.
  ChainStream(std::shared_ptr<const EqDesign> design, const std::optional<dsp::CompressorParams>& comp,
              int64_t length, double rate, Backend& backend);

  int64_t length() const { return length_; }
  int64_t done() const { return done_; }  // output frames read so far
  // The input frames [0, e) that the next n output frames need (e <= length()).
  int64_t input_needed(int64_t n) const;
  // The next n output frames (n <= length() - done()): the result's first n frames, valid until the
  // next call (the caller may change those n, not the frames after them). Pulls the input it needs
  // from `input` (input_needed(n)).
  AudioBuffer& next(int64_t n, const ChainInput& input);

  const EqDesign* design() const { return design_.get(); }
  const CompressorStream* compressor() const { return comp_.get(); }

 private:
  int64_t eq_end_for(int64_t out_end) const;  // EQ output computed to serve out_end

  std::shared_ptr<const EqDesign> design_;
  std::unique_ptr<CompressorStream> comp_;
  Backend& backend_;
  int64_t length_, taps_ = 1, before_ = 0, delay_ = 0, hop_ = 1, ahead_ = 0;
  int64_t done_ = 0;      // output frames read
  int64_t eq_end_ = 0;    // EQ output computed: frames [done_, eq_end_) wait in queue_
  int64_t in_end_ = 0;    // input frames pulled: [eq_end_ - before_, in_end_) wait in window_
  int64_t pending_ = 0;   // frames of queue_ read by the last next(), dropped by the next one
  AudioBuffer window_, queue_;
};

// A reverb's return (its input convolved with the IR, wet level folded in) in output spans of
// whole overlap-save hops counted from frame 0: the same bits as one convolution over the whole
// input. Output frame k in [0, input_frames + L - 1); a mono IR serves every channel, a stereo IR
// is applied channel by channel.
class ReverbReturn {
 public:
  ReverbReturn(const AudioBuffer& ir, int64_t input_frames, int channels, double wet_db, Backend& backend);

  int64_t output_frames() const { return out_n_; }
  int64_t done() const { return done_; }
  int64_t next_frames() const { return std::min(span_, out_n_ - done_); }  // the next span's length
  // The input frames [input_from(), input_to()) the next span reads.
  int64_t input_from() const { return std::max<int64_t>(0, done_ - (l_ - 1)); }
  int64_t input_to() const { return std::min(n_, done_ + next_frames()); }
  // The next span's output (the result's first next_frames()) from x[c] = channel c's input at
  // frame input_from(), holding frames up to input_to(); valid until the next call.
  const AudioBuffer& next(std::span<const float* const> x);

 private:
  Backend& backend_;
  int64_t n_, l_, out_n_, span_, done_ = 0;
  std::vector<std::vector<float>> scaled_;   // the IR's channels times the wet level
  std::vector<std::span<const float>> taps_;  // per input channel
  AudioBuffer y_;
};

}  // namespace lq
