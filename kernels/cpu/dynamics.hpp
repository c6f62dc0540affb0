// CPU compressor and true-peak limiter over planar float audio, in place, stage-major.
// Math in kernels/dsp/dynamics.hpp; recurrences through kernels/cpu/recurrence.hpp (bit-identical
// to the sequential loop whatever the chunk length or thread count).
#pragma once

#include <functional>

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kernels/dsp/dynamics_params.hpp"

namespace lq::cpu {

struct DynamicsStats {
  double max_gain_reduction_db = 0.0;   // >= 0
  double mean_gain_reduction_db = 0.0;  // mean over all frames (linked: over the shared gain)
};

// Applies the compressor in place. Zero latency as seen by the caller: any look-ahead is
// compensated inside (output frame n corresponds to input frame n).
DynamicsStats compress(AudioBuffer& audio, const dsp::CompressorParams& params, ThreadPool& pool);

// The compressor over consecutive spans of one signal (the render streams its stems), carrying
// its smoother's state and its statistics from span to span; compress() is one span. process():
// `audio` holds the span's `frames` frames and after them the signal's next
// min(lookahead_frames(), frames left) frames, which are read, not changed (frames past the
// look-ahead are not read). Given the signal's own
// frames as look-ahead, spans of any lengths give the same bits and figures as one span.
class CompressorStream {
 public:
  CompressorStream(const dsp::CompressorParams& params, double sample_rate, int channels);
  ~CompressorStream();
  CompressorStream(const CompressorStream&) = delete;
  CompressorStream& operator=(const CompressorStream&) = delete;

  int64_t lookahead_frames() const;
  void process(AudioBuffer& audio, int64_t frames, ThreadPool& pool);
  DynamicsStats stats() const;  // over every frame processed so far
  // From now on (before the first process()), the largest smoothed reduction (dB, over detectors)
  // in each step of `step_frames` frames counted from the signal's first: step_reductions()[k].
  void record_steps(int64_t step_frames);
  const std::vector<float>& step_reductions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct LimiterStats {
  // Over frames, of the total gain. With more than one pass (or safety rounds) the largest is an
  // upper bound, per 1024 frames the sum of each pass's largest: above the exact figure by at most
  // what the later passes trimmed (about over_after_first_pass_db: up to 0.3 dB on clipped noise
  // bursts). The max_limiting_db warning reads it, so it errs towards warning. The mean is exact.
  double max_gain_reduction_db = 0.0;
  double mean_gain_reduction_db = 0.0;
  int passes = 0;                      // limiter passes until the verify found no over
  double output_true_peak_dbtp = 0.0;  // as read by the limiter's detector (limiter_detector_profile)
  // Added: diagnostics of the verify loop.
  double over_after_first_pass_db = 0.0;  // worst true peak above the ceiling after pass 1 (>= 0)
  int safety_rounds = 0;                  // rounds of remove_true_peak_overs after the passes
  // The input's Annex 2 true peak (linear): true_peak_scan's value on the audio before the limiter,
  // from pass 1's readings (no scan of its own).
  double input_true_peak_linear = 0.0;
};

// Stereo-linked look-ahead true-peak limiter, in place, latency compensated. After it returns,
// every channel's true peak (dsp::true_peak_at over all positions) is <= ceiling, and so are its
// 4x sinc readings (limiter_detector_profile). Input whose detector reading is already <= ceiling
// is left bit-identical (no gain reduction).
// The ceiling in linear terms is dsp::db_to_linear(ceiling_dbtp) (kernels/dsp/dynamics.hpp,
// prepare_limiter). Latency: none seen by the caller (the look-ahead is compensated inside).
// `before_write`, when given, is called with f before the limiter first writes a frame under f
// (f rising): a caller still reading the input on another thread returns once it has read frames
// [0, f), so that both can work on the same buffer at once.
LimiterStats limit_true_peak(AudioBuffer& audio, const dsp::LimiterParams& params, ThreadPool& pool,
                             const std::function<void(int64_t)>& before_write = {});

// The limiter's detector at every position n in [0, N + dsp::kLimiterSupport - 1): the max over
// channels of Annex 2's reading (dsp::true_peak_at; 0 past N + 10) and of the 4x sincs'
// (dsp::sinc_taps, by FFT convolution: float, within about 1e-6 of the direct sum). Returns the max.
// The same values whatever the thread count.
double limiter_detector_profile(const AudioBuffer& audio, std::vector<double>& profile, ThreadPool& pool);

// The largest of the detector's readings at positions [begin, end) (clipped to the profile's).
double limiter_detector_max(const AudioBuffer& audio, int64_t begin, int64_t end, ThreadPool& pool);

// The most any of the detector's readings can move per unit of largest sample change: the largest
// sum of |tap| over Annex 2's phases and the sincs' (1 for the sample itself). A change of every
// sample by at most e (quantisation, dither) moves every reading by at most e times this.
double limiter_detector_error_gain();

// Hard safety (added): scales only the samples that feed a true-peak reading above
// `ceiling_linear`, each by ceiling_linear (1 - 1e-6) / (largest reading it feeds), until no reading
// is above (readings of limiter_detector_profile); after a few rounds it scales the whole buffer
// instead. Samples outside the supports of overs (dsp::kLimiterSupport samples) keep their bits.
// Returns the number of rounds (0: there was no over).
// limit_true_peak ends with it; the host may call it after quantisation.
int remove_true_peak_overs(AudioBuffer& audio, double ceiling_linear, ThreadPool& pool);

// The limiter's sliding minimum: out[i] = min in[i .. i + w - 1] for i in [0, out_n), in[j] = 1 for
// j >= in_n (for gains <= 1). Exact, whatever the blocking.
void sliding_min(const double* in, int64_t in_n, int64_t w, double* out, int64_t out_n, ThreadPool& pool);
void sliding_min(const std::vector<double>& in, int64_t in_n, int64_t w, std::vector<double>& out, int64_t out_n,
                 ThreadPool& pool);

}  // namespace lq::cpu
