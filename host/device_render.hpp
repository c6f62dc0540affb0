// The song rendered on the device (docs/architecture.md "The device render"): with a device backend
// (`--backend cuda`, `cuda-host`), each stem is decoded on the host (converted with libsoxr where
// its rate differs) and uploaded once at its own width; its pan and gain, EQ and compressor, the
// sums into its group and send buses, the reverbs, the groups' chains, the master's sum, EQ,
// compressor and tail, the meter and the limiter with the loudness loop run on the device, in the
// whole-buffer order of host/mix_stream.hpp. The limited master comes down once for the verify,
// the dither and the encoding, which stay on the host with the EQ design, the gating and the report.
//
// Host waits: one per 256 MiB of stems uploaded (their host copies are kept until then), one at
// the end of the mix, one for the master's tail and checks, one per meter reading and one per
// limiter pass (host/device_backend.hpp), whatever the song's length or number of stems.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "host/device_backend.hpp"
#include "host/loudness.hpp"
#include "host/mix_stream.hpp"
#include "host/session.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

class DeviceSong {
 public:
  // The most device memory the render of a song with this graph takes (bytes; the counters'
  // peak_device_bytes stays under it): a song over the backend's budget takes the span path.
  static int64_t memory_estimate(const MixGraph& graph, int64_t batch_samples);

  DeviceSong(DeviceBackend& backend, double rate) : backend_(backend), rate_(rate) {}

  // Mixes the session's stems (stem i's file at stem_rates[i]) into the master bus on the device;
  // the report entries as mix_song's (out.master stays empty; the groups' outputs come down when
  // kept). Throws a stem file's problem (UserError) when its decoding fails.
  MixResult mix(const Session& session, std::span<const int> stem_rates, int64_t song_frames,
                const std::map<std::string, AudioBuffer>& irs, bool keep_groups, nlohmann::json& timing,
                nlohmann::json& warnings);

  // The master's EQ and compressor, then the tail kept by trim_tail's rule (cap_frames at most).
  struct MasterChain {
    nlohmann::json eq, compressor;   // report entries (compressor null when none)
    int64_t tail_frames = 0;
    bool mix_finite = true, chain_finite = true;  // the summed mix; after the EQ and compressor
  };
  MasterChain process_master(const MasterSpec& spec, int64_t song_frames, int64_t cap_frames);

  int64_t frames() const { return frames_; }
  double rate() const { return rate_; }
  AudioBuffer download();  // the master bus, on the host
  LoudnessMeasurement measure();  // the master bus's loudness and peaks
  // A copy of the master at gain_db through the limiter, kept on the device as the latest (the
  // one before it is dropped); downloaded into *download_to (stereo, frames()) when given.
  cpu::LimiterStats limit(double gain_db, const dsp::LimiterParams& lp, AudioBuffer* download_to = nullptr);
  double latest_loudness();      // the latest's integrated loudness
  AudioBuffer download_latest();

 private:
  dev::Buffer<float> zeros(int64_t n);
  // y = x (rows of n frames) through the EQ design's FIR, latency compensated.
  dev::Buffer<float> eq(const dev::Buffer<float>& x, const EqDesign& design, int64_t n);
  // dst (rows of dst_frames) frames [at, at + frames) += gain * src (rows of src_frames).
  void add(dev::Buffer<float>& dst, int64_t dst_frames, int64_t at, const dev::Buffer<float>& src, int64_t src_frames,
           int64_t frames, float gain);

  DeviceBackend& backend_;
  double rate_;
  int64_t frames_ = 0;
  dev::Buffer<float> master_, latest_;  // stereo rows of frames_
};

}  // namespace lq
