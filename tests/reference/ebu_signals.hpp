// EBU Tech 3341 / Tech 3342 test signals, synthesised from the documents' descriptions with the
// recipe of docs/verification.md "Synthesised test signals" (independent of the meter): float32
// planar at any rate.
//
// Tone signals: x[n] = A sin(2 pi 1000 n / fs), A = 10^(dBFS / 20) the per-channel peak, n the
// global sample index (phase-continuous across level changes), segment lengths round(s * fs),
// the same signal in every channel (in phase) unless stated.
#pragma once

#include <cmath>
#include <span>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"

namespace lq::test {

struct ToneSegment {
  double seconds = 0.0;
  double level_dbfs = -HUGE_VAL;  // -inf: digital silence
};

// A 1 kHz (or freq_hz) tone sequence in `channels` identical channels.
AudioBuffer tone_sequence(std::span<const ToneSegment> segments, double sample_rate, int channels = 2,
                          double freq_hz = 1000.0);

// Tech 3341 Table 1 loudness cases that are one signal: 1-6, 9, 11, 12, 14 (case 6 has 5 channels
// L, R, C, Ls, Rs). Cases 11 and 14 are the "live" single files of 20 segments.
AudioBuffer tech3341_case(int number, double sample_rate);

// Tech 3341 cases 10 and 13: file i (0..19) of the "file-based" set.
AudioBuffer tech3341_case10_file(int i, double sample_rate);
AudioBuffer tech3341_case13_file(int i, double sample_rate);

// Start frame of segment i (0..19) of the live cases 11 and 14, and the segment count + 1 entry.
std::vector<int64_t> tech3341_live_segment_starts(int number, double sample_rate);

// Tech 3341 true-peak cases 15-23 (stereo, 3.2 s, 10 ms raised-cosine fades). 20-23 are built at
// 4 fs, low-passed with a 2047-tap Blackman-Harris windowed sinc (cut-off 23.5 kHz * fs / 48 kHz)
// and decimated with a 0/1/2/3-sample offset.
AudioBuffer tech3341_true_peak_case(int number, double sample_rate);

// Tech 3342 Table 1 cases 1-4 (stereo 1 kHz level steps).
AudioBuffer tech3342_case(int number, double sample_rate);

// The signal followed by itself `times` times in total.
AudioBuffer repeat(const AudioBuffer& audio, int times);

}  // namespace lq::test
