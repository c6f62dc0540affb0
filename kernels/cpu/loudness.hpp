// CPU executors of the loudness meter's sample passes (host/loudness.hpp does the gating).
//
// K-weighting (kernels/dsp/k_weighting.hpp): per channel, stage 1 then stage 2 as chunked order-2
// recurrences (kernels/dsp/recurrence.hpp: speculate every chunk from zero state in parallel, then
// fix up in chunk order), the signal taken window by window so that memory stays at 16 bytes per
// window frame and channel. The filtered values equal the plain sequential loop bit for bit, so
// the energies depend on neither the thread count nor the schedule below.
//
// Parallel decomposition: speculation over (channel, chunk) pairs, fix-up over channels (chunks
// in order inside a channel), segment sums over (channel, segment range); true peak over
// (channel, block) pairs, combined by an exact max.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq::cpu {

// Speed knobs only: the results are the same bits for any values >= 1.
struct KWeightingSchedule {
  int64_t chunk_frames = int64_t{1} << 17;   // speculation chunk of the recurrences
  int64_t window_frames = int64_t{1} << 20;  // frames filtered per pass, rounded to whole segments
};

// Work done by the fix-up pass (samples re-run before the speculated and true trajectories met),
// a measure of wasted work; the output does not depend on it.
struct KWeightingStats {
  int64_t frames_filtered = 0;  // per stage, summed over channels
  int64_t frames_rerun = 0;     // both stages, summed over channels
};

// energies[j][k] = sum over i in [k*segment_frames, (k+1)*segment_frames) of y[i]^2, in float64 in
// index order, for k < frames / segment_frames (a trailing partial segment is dropped), where y is
// channel channels[j] K-weighted at audio.sample_rate from zero state. segment_frames >= 1.
std::vector<std::vector<double>> k_weighted_segment_energies(const AudioBuffer& audio,
                                                             std::span<const int> channels,
                                                             int64_t segment_frames, ThreadPool& pool,
                                                             const KWeightingSchedule& schedule = {},
                                                             KWeightingStats* stats = nullptr);

// Max over channels and over positions 0 <= n < frames + 11 of dsp::true_peak_at (linear): the
// BS.1770-4 Annex 2 interpolated peak, maxed with the sample values, including the filter's tail.
double true_peak_scan(const AudioBuffer& audio, ThreadPool& pool);

// Max |x| over channels and frames (linear).
double sample_peak_scan(const AudioBuffer& audio, ThreadPool& pool);

}  // namespace lq::cpu
