// The bus operations of the chain (host side of the CPU backend): pan and gain into stereo,
// sums in a fixed order, mid/side width, EQ through the convolver, reverb returns, tail trim.
// Over whole buffers or their first frames; the convolutions run on the backend.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/backend.hpp"
#include "host/eq_design.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

// Mono -> stereo with the -3 dB (sin/cos) pan law, theta = (pan + 1) * pi / 4;
// stereo -> balance (pan < 0 lowers the right channel by (1 + pan), pan > 0 the left by
// (1 - pan)); then gain. pan in [-1, 1].
AudioBuffer to_stereo(const AudioBuffer& in, double pan, double gain_db);
// The left and right gains of that law for an input of `channels` (1 or 2).
std::pair<float, float> stereo_gains(int channels, double pan, double gain_db);
// The same into out's frames [at, at + frames) from in's first `frames` (out is stereo and long enough).
void to_stereo_into(const AudioBuffer& in, int64_t frames, double pan, double gain_db, AudioBuffer& out, int64_t at);

// d[i] += gain * s[i] for i < n (the one accumulation loop of every bus sum).
void accumulate(float* d, const float* s, int64_t n, float gain);
// dst += gain * src, sample by sample; dst grows (zero-padded) to src's length if shorter.
void add_into(AudioBuffer& dst, const AudioBuffer& src, float gain = 1.0f);
// dst[at + i] += gain * src[i] for i < frames; dst grows (zero-padded) to at + frames if shorter.
void add_into(AudioBuffer& dst, int64_t at, const AudioBuffer& src, int64_t frames, float gain = 1.0f);

void apply_gain(AudioBuffer& a, double gain_db);
void apply_gain(AudioBuffer& a, double gain_db, int64_t frames);  // on the first `frames` only

// Mid/side width on a stereo buffer: M = (L+R)/2, S = width * (L-R)/2, L = M+S, R = M-S.
// width 1 leaves the buffer bit-identical.
void apply_width(AudioBuffer& a, double width);
void apply_width(AudioBuffer& a, double width, int64_t frames);  // on the first `frames` only

// The linear-phase design of the bands at `rate` (cached across stems and songs: a design can take
// 0.1-0.5 s, and a catalog's sessions repeat the same EQs); null when the bands are neutral.
std::shared_ptr<const EqDesign> eq_design_for(const std::vector<EqBand>& bands, double rate);
// The report's entry for a design: taps, latency_frames, lowest_freq_hz, max_error_db.
nlohmann::json eq_report(const EqDesign& design);
// Throws UserError(file, "<where>: ...") when the design of the bands at `rate` misses its target
// by more than the designer's 0.1 dB anywhere from 20 Hz to 20 kHz (a band too narrow for the
// longest filter, kMaxEqTaps): the reason, and what to change. Render calls it for every EQ once the
// processing rate is known, before any audio is processed.
void require_realisable_eq(const std::vector<EqBand>& bands, double rate, const std::filesystem::path& file,
                           const std::string& where);
// The report's entry for a compressor's figures.
nlohmann::json dynamics_json(const DynamicsStats& stats);

// Linear-phase EQ in place (latency compensated: output frame n = input frame n). Neutral
// bands change nothing and cost nothing. Returns the design's report entry (or null).
nlohmann::json apply_eq(AudioBuffer& a, const std::vector<EqBand>& bands, Backend& backend);

// Adds the reverb return into dst: dst[predelay + k] += wet * (bus convolved with ir)[k] for k in
// [0, bus + L - 1) (dst grows, zero-padded); a mono IR is applied to both channels, a stereo IR
// channel by channel. Convolved in spans (ReverbReturn): no return buffer of the bus's length.
void add_reverb_return(AudioBuffer& dst, const AudioBuffer& bus, const AudioBuffer& ir, int64_t predelay_frames,
                       double wet_db, Backend& backend);

// Keeps the reverb tail after `song_frames` until it falls below -90 dBFS, at most cap_frames
// more, and fades the kept tail's last min(50 ms, kept tail) frames with a raised cosine (a
// no-op in effect when the tail decayed by itself, a clean end when the cap cut it). Returns the
// number of tail frames kept; buffers shorter than the song are padded to it.
int64_t trim_tail(AudioBuffer& a, int64_t song_frames, int64_t cap_frames);

}  // namespace lq
