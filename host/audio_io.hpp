// Audio file I/O through libsndfile, with the validation libsndfile does not do
// (docs/verification.md "What libsndfile lets through", "Bad input"): frames read == frames
// declared, sf_error() after reading, a WAV data chunk that claims more than the file holds, sample
// rate and channel range, NaN/Inf.
// Every problem is a UserError "<path>: <problem>".
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "host/files.hpp"
#include "kernels/cpu/audio_buffer.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace lq {

inline constexpr double kMinSampleRate = 8000.0;
inline constexpr double kMaxSampleRate = 768000.0;
inline constexpr int kMaxInputChannels = 2;  // mono or stereo stems and IRs, for now

struct AudioFileInfo {
  std::filesystem::path path;
  std::string format;         // e.g. "WAV PCM 24-bit", "FLAC 16-bit", "OGG Vorbis"
  double sample_rate = 0.0;
  int channels = 0;
  int64_t frames = 0;
  double peak_dbfs = -HUGE_VAL;  // sample peak over all channels
  int64_t plausible_frames = 0;  // frames, capped by what the file's size could hold (for reserving)
};

// A file read in consecutive spans (the render streams its stems). The constructor makes every
// check of the header read_audio makes; read() decodes the next frames; finish() makes the checks
// at the end (every declared frame read, no libsndfile error, no NaN/Inf) and sets info().peak_dbfs.
// Until finish() returns, what was read is not known to be valid. read_audio is a reader read to
// its end. Every problem is a UserError "<path>: <problem>".
class AudioReader {
 public:
  explicit AudioReader(const std::filesystem::path& path);
  ~AudioReader();
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;

  const AudioFileInfo& info() const;  // frames: as declared; peak_dbfs once finish() returned
  // Decodes up to max_frames frames into out.channels[c][at, at + n) (out has the file's channel
  // count; shorter channels grow); returns n, 0 at the end of the file.
  int64_t read(AudioBuffer& out, int64_t at, int64_t max_frames);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a whole file as planar float32 at its own rate. Rejects: missing/unreadable paths
// (with strerror), directories, empty or non-audio files, truncated or corrupt data, 0 frames,
// channels outside [1, kMaxInputChannels], rates outside [kMinSampleRate, kMaxSampleRate],
// NaN or Inf samples.
// With max_seconds > 0, a file whose header declares more is refused before anything is decoded
// ("<path>: <what> is N s long (at most M s)").
AudioBuffer read_audio(const std::filesystem::path& path, AudioFileInfo* info = nullptr, double max_seconds = 0.0,
                       const char* what = "the file");

// Sample-rate conversion with libsoxr, very high quality; returns a copy when rates are equal.
// Output length = round(frames * to / from).
AudioBuffer resample(const AudioBuffer& in, double to_rate);

enum class OutputFormat { wav, flac };

struct EncodeSpec {
  OutputFormat format = OutputFormat::wav;
  int bit_depth = 24;          // wav: 16, 24 or 32 (32 = float); flac: 16 or 24
  bool dither = true;          // TPDF at the output LSB for integer formats; never for float
  uint64_t dither_seed = 0;    // the noise is a function of (seed, channel, frame) only
};

// Applies exactly what encoding does to the samples (TPDF dither, rounding to the output grid,
// clamping to the integer range) so that the result can be measured before it is written;
// 32-bit float is left unchanged. write_audio_atomic of the result writes these values exactly.
// With a pool, blocks of frames run in parallel (the same values). `first_frame`: the song's frame
// that audio's frame 0 is (the dither is a function of the song's frame), for a song in spans.
void quantize_in_place(AudioBuffer& audio, const EncodeSpec& spec, cpu::ThreadPool* pool = nullptr,
                       int64_t first_frame = 0);

// Writes `audio` (already quantised by quantize_in_place for integer formats) through an
// AudioWriter and commits it; returns the file's XXH3-128 (hex).
std::string write_audio_atomic(const std::filesystem::path& out, const AudioBuffer& audio, const EncodeSpec& spec,
                               Publication* pub = nullptr);

// An audio file written in consecutive spans to an unnamed temporary file in out's folder
// (host/files.hpp), every write checked. commit() closes it, reads its header back, fsyncs it and
// returns its XXH3-128 (hex); it is then published at once, or added to `pub` to be published
// with the rest of a render. Destroyed before commit(), it leaves nothing and `out` untouched.
// Failures are UserErrors naming `out`.
class AudioWriter {
 public:
  AudioWriter(const std::filesystem::path& out, const EncodeSpec& spec, int channels, double rate);
  ~AudioWriter();
  AudioWriter(const AudioWriter&) = delete;
  AudioWriter& operator=(const AudioWriter&) = delete;
  // Appends audio's frames [begin, end) (quantised by quantize_in_place for integer formats).
  void write(const AudioBuffer& audio, int64_t begin, int64_t end);
  std::string commit(Publication* pub = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The header's frames, rate and channels, without decoding; false when libsndfile cannot open it,
// or for FLAC and Ogg when the last declared frame cannot be read (seek and read one frame).
bool probe_audio_header(const std::filesystem::path& path, int64_t* frames, int* sample_rate, int* channels);

}  // namespace lq
