// Loudness and peak measurement: ITU-R BS.1770-4 / EBU R128 (Tech 3341, Tech 3342).
//
// K-weighting for any rate (analog prototypes, libebur128's constants), 400 ms blocks with 75%
// overlap, absolute (-70 LUFS) and relative (-10 LU) gates, gating on the host in float64;
// momentary (400 ms) and short-term (3 s) maxima on a 10 ms hop or finer; loudness range per
// Tech 3342 on short-term values at 10 Hz or more; true peak with the 4x Annex 2 interpolator
// (kernels/dsp/true_peak.hpp), max with the sample values.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <memory>
#include <vector>

#include "host/backend.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

struct LoudnessMeasurement {
  double sample_rate = 0.0;
  int64_t frames = 0;
  bool integrated_defined = false;          // false: no block above the gates (silence, < 400 ms)
  double integrated_lufs = -HUGE_VAL;       // -inf when undefined
  double loudness_range_lu = 0.0;
  double max_momentary_lufs = -HUGE_VAL;
  double max_short_term_lufs = -HUGE_VAL;
  double sample_peak_dbfs = -HUGE_VAL;
  double true_peak_dbtp = -HUGE_VAL;
  double true_peak_linear = 0.0;            // max over channels
  // What an album's figures are gated from (album_loudness): the mean squares of the 400 ms
  // blocks, and of the short-term windows the loudness range reads (those at or above -70 LUFS).
  std::vector<double> block_energies, range_energies;
  // Every 100 ms (entry k: the window ending at (k + 1) * 100 ms, frames before 0 silence; whole
  // 100 ms steps only): momentary (400 ms) and short-term (3 s) loudness, -inf over silence, and
  // the K-weighted, channel-weighted mean square of the step itself. The report's series.
  std::vector<double> momentary_100ms, short_term_100ms, energy_100ms;
  // The highest true peaks (dsp::true_peak_at over channels), one per 100 ms step, highest first
  // (at most 10; LoudnessMeter with record_peaks only): the reading's position in frames and its
  // linear value.
  std::vector<std::pair<int64_t, double>> top_true_peaks;
};

// An album's loudness: the songs' blocks gated together (BS.1770-4's gates over the union of every
// song's 400 ms blocks, as libebur128's ebur128_loudness_global_multiple and ReplayGain 2's album
// gain do), and the loudness range of their short-term values together (Tech 3342's gates).
struct AlbumLoudness {
  bool integrated_defined = false;
  double integrated_lufs = -HUGE_VAL;
  double loudness_range_lu = 0.0;
};
AlbumLoudness album_loudness(std::span<const LoudnessMeasurement> songs);

// Definitions (host/loudness.cpp): 100 ms step = round(fs / 10) frames; integrated gates keep blocks
// strictly above -70 LUFS and the relative gate (BS.1770-4); loudness range over complete 3 s
// windows every 100 ms, gates >= as in the Tech 3342 listing, nearest-rank P95 - P10, no silence
// appended, 0 when nothing passes; max momentary / short-term over the loudness_series below (windows
// ending every hop, zero before frame 0). K-weighting has the 48 kHz response at every rate
// (kernels/dsp/k_weighting.hpp). Throws std::invalid_argument for a sample rate <= 0 or channels of
// different lengths. Bit-identical for any thread count.
// Channel weights: 1 and 2 channels -> 1.0 each; 5 channels L,R,C,Ls,Rs -> 1,1,1,1.41,1.41;
// 6 channels L,R,C,LFE,Ls,Rs -> LFE excluded. Other counts: 1.0 each.
// The sample passes (K-weighted energies, peak scans) run on `backend`; the gating on the host.
LoudnessMeasurement measure_loudness(const AudioBuffer& audio, Backend& backend);
// measure_loudness and integrated_loudness of a signal held elsewhere (the device render's master):
// `channels` x `frames` at `rate`, whose sample passes passes(used, segment_frames) runs
// (Backend::meter_passes's; integrated_loudness reads only the energies).
using MeterPassesFn = std::function<Backend::MeterPasses(std::span<const int> used, int64_t segment_frames)>;
LoudnessMeasurement measure_loudness(int channels, int64_t frames, double rate, const MeterPassesFn& passes);
double integrated_loudness(int channels, int64_t frames, double rate, const MeterPassesFn& energies);
// Sets m's true peak (linear and dBTP) from a scan made elsewhere.
void set_true_peak(LoudnessMeasurement& m, double true_peak_linear);
LoudnessMeasurement measure_loudness(const AudioBuffer& audio, cpu::ThreadPool& pool);  // CPU backend

// measure_loudness of a signal fed in consecutive spans, on the CPU: the same figures, bit for bit,
// as measure_loudness over the whole signal on the CPU backend. finish() once, after the last span.
class LoudnessMeter {
 public:
  // true_peak = false: no true-peak scan (the measurement's true peak is left at 0 / -inf dB).
  // record_peaks: the measurement's top_true_peaks too.
  LoudnessMeter(int channels, double sample_rate, cpu::ThreadPool& pool, bool true_peak = true, bool record_peaks = false);
  ~LoudnessMeter();
  LoudnessMeter(const LoudnessMeter&) = delete;
  LoudnessMeter& operator=(const LoudnessMeter&) = delete;
  void add(const AudioBuffer& audio, int64_t begin, int64_t end);  // audio's frames [begin, end)
  LoudnessMeasurement finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  cpu::ThreadPool& pool_;
};

// Integrated loudness only (cheaper: no true peak, no range); -inf when undefined.
double integrated_loudness(const AudioBuffer& audio, Backend& backend);
double integrated_loudness(const AudioBuffer& audio, cpu::ThreadPool& pool);

// Max over channels and positions of dsp::true_peak_at (linear).
double true_peak_linear(const AudioBuffer& audio, cpu::ThreadPool& pool);

// Momentary (400 ms) and short-term (3 s) loudness as an EBU Mode meter reset at frame 0 shows
// them: entry k is the window ending at frame (k + 1) * hop_frames, frames before 0 counting as
// silence; -inf where the window holds no energy. hop_frames divides the 100 ms gating step
// (round(fs / 10) frames) into its smallest whole divisor >= 10 parts: 10 ms at 44.1, 48, 96 kHz.
// max_momentary_lufs and max_short_term_lufs of measure_loudness are the maxima of these series.
struct LoudnessSeries {
  double sample_rate = 0.0;
  int64_t hop_frames = 0;
  std::vector<double> momentary_lufs;
  std::vector<double> short_term_lufs;
};
LoudnessSeries loudness_series(const AudioBuffer& audio, cpu::ThreadPool& pool);

}  // namespace lq
