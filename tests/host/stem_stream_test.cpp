// A stem streamed in spans (host/stem_stream.hpp) against the same chain over the whole stem:
// to_stereo, apply_eq and Backend::compress on whole buffers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sndfile.h>

#include "host/audio_io.hpp"
#include "host/errors.hpp"
#include "host/backend.hpp"
#include "host/mixing.hpp"
#include "host/stem_stream.hpp"
#include "support/expect_close.hpp"
#include "support/test_files.hpp"

namespace {

namespace fs = std::filesystem;
using lq::AudioBuffer;

constexpr int64_t kFrames = (int64_t(1) << 19) * 2 + 12345;  // frames: 2 spans and a part

// Noise bursts (loud 0.1 s, quiet 0.2 s) and a 220 Hz tone: the compressor works on every span.
std::vector<std::vector<float>> signal(int channels, int64_t frames, double rate, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.25f);
  std::vector<std::vector<float>> x(static_cast<size_t>(channels), std::vector<float>(static_cast<size_t>(frames)));
  for (int64_t i = 0; i < frames; ++i) {
    const float env = std::fmod(double(i) / rate, 0.3) < 0.1 ? 1.0f : 0.05f;
    for (int c = 0; c < channels; ++c) {
      const float v = env * g(rng) + 0.1f * float(std::sin(2.0 * M_PI * 220.0 * double(i) / rate + c));
      x[size_t(c)][size_t(i)] = std::clamp(v, -0.95f, 0.95f);  // inside full scale for the integer formats
    }
  }
  return x;
}

lq::StemSpec stem(const fs::path& file, bool eq, std::optional<double> lookahead_ms) {
  lq::StemSpec s;
  s.name = "s";
  s.file = file;
  s.group = "g";
  s.gain_db = -2.0;
  s.pan = 0.3;
  if (eq) {
    s.eq = {{lq::EqBandType::low_shelf, 100.0, 3.0, 0.7071067811865476, 12},
            {lq::EqBandType::bell, 400.0, -2.0, 1.0, 12},
            {lq::EqBandType::bell, 3000.0, 2.0, 1.0, 12},
            {lq::EqBandType::high_shelf, 10000.0, 1.5, 0.7071067811865476, 12}};
  }
  if (lookahead_ms) {
    lq::dsp::CompressorParams p;
    p.threshold_db = -24.0;
    p.ratio = 4.0;
    p.lookahead_ms = *lookahead_ms;
    s.compressor = p;
  }
  return s;
}

struct Streamed {
  AudioBuffer audio;
  lq::StemReport report;
  int calls = 0;
};

// Spans of uneven lengths (none a multiple of the EQ's hop), so that the EQ's queue, the
// compressor's state and the decoder cross span boundaries anywhere.
Streamed streamed(const lq::StemSpec& spec, double file_rate, double rate, int64_t song_frames, lq::Backend& backend) {
  Streamed r;
  r.audio = AudioBuffer(2, 0, rate);
  lq::StemStream stream(spec, file_rate, rate, song_frames, backend);
  const int64_t lengths[] = {1 << 19, 77777, 300001, 1};
  for (int64_t at = 0; at < song_frames; ++r.calls) {
    const int64_t n = std::min(lengths[r.calls % 4], song_frames - at);
    EXPECT_EQ(stream.done(), at);
    lq::add_into(r.audio, at, stream.next(n), n);
    at += n;
  }
  r.report = stream.finish();
  EXPECT_EQ(r.audio.frames(), song_frames);
  return r;
}

// The whole-stem chain: decode, convert, pan and gain, pad to the song, EQ, compressor.
AudioBuffer whole(const lq::StemSpec& spec, double rate, int64_t song_frames, lq::Backend& backend,
                  nlohmann::json* comp_report) {
  AudioBuffer in = lq::read_audio(spec.file);
  if (in.sample_rate != rate) in = lq::resample(in, rate);
  AudioBuffer st = lq::to_stereo(in, spec.pan, spec.gain_db);
  st.resize_frames(song_frames);
  lq::apply_eq(st, spec.eq, backend);
  if (spec.compressor) *comp_report = lq::dynamics_json(backend.compress(st, *spec.compressor));
  return st;
}

}  // namespace

TEST(StemStream, EqAndCompressorInSpansGiveTheWholeStemsBits) {
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "s.wav", signal(2, kFrames, 48000.0, 1), 48000, SF_FORMAT_WAV | SF_FORMAT_PCM_24);
  lq::cpu::ThreadPool pool(2);
  lq::CpuBackend backend(pool);
  for (const bool eq : {true, false}) {
    const auto spec = stem(dir / "s.wav", eq, 0.0);
    const int64_t song = kFrames + 70000;  // the song runs on past the stem: silence in
    nlohmann::json comp;
    const AudioBuffer expected = whole(spec, 48000.0, song, backend, &comp);
    const Streamed got = streamed(spec, 48000.0, 48000.0, song, backend);
    EXPECT_GE(got.calls, 3) << "more than one span";
    for (int c = 0; c < 2; ++c) {
      EXPECT_TRUE(lq::test::bit_equal(got.audio.channels[size_t(c)], expected.channels[size_t(c)]))
          << "EQ " << eq << ", channel " << c;
    }
    EXPECT_EQ(got.report.report["compressor"], comp);
    EXPECT_GT(comp["max_gain_reduction_db"].get<double>(), 3.0);
    EXPECT_EQ(got.report.input["frames"], kFrames);
    EXPECT_EQ(got.report.report["eq"].is_null(), !eq);
  }
}

// With a look-ahead the compressor reads past each span the EQ's frames of the next one: queued,
// not computed again, so still the whole stem's bits.
TEST(StemStream, CompressorLookAheadAcrossSpansGivesTheWholeStemsBits) {
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "m.flac", signal(1, kFrames, 48000.0, 2), 48000, SF_FORMAT_FLAC | SF_FORMAT_PCM_24);
  lq::cpu::ThreadPool pool(2);
  lq::CpuBackend backend(pool);
  const auto spec = stem(dir / "m.flac", true, 5.0);
  nlohmann::json comp;
  const AudioBuffer expected = whole(spec, 48000.0, kFrames, backend, &comp);
  const Streamed got = streamed(spec, 48000.0, 48000.0, kFrames, backend);
  for (int c = 0; c < 2; ++c) {
    EXPECT_TRUE(lq::test::bit_equal(got.audio.channels[size_t(c)], expected.channels[size_t(c)])) << "channel " << c;
  }
  EXPECT_EQ(got.report.report["compressor"], comp);
  EXPECT_GT(comp["max_gain_reduction_db"].get<double>(), 3.0);
  EXPECT_EQ(got.report.input["format"], "FLAC 24-bit");
}

TEST(StemStream, AStemAtAnotherRateIsConvertedThenStreamed) {
  const fs::path dir = lq::test::fresh_dir();
  const int64_t frames = kFrames * 441 / 480;
  lq::test::write_audio_file(dir / "r.wav", signal(2, frames, 44100.0, 3), 44100, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  lq::cpu::ThreadPool pool(2);
  lq::CpuBackend backend(pool);
  const auto spec = stem(dir / "r.wav", true, 0.0);
  const int64_t song = std::llround(double(frames) * 48000.0 / 44100.0);
  nlohmann::json comp;
  const AudioBuffer expected = whole(spec, 48000.0, song, backend, &comp);
  const Streamed got = streamed(spec, 44100.0, 48000.0, song, backend);
  for (int c = 0; c < 2; ++c) {
    EXPECT_TRUE(lq::test::bit_equal(got.audio.channels[size_t(c)], expected.channels[size_t(c)])) << "channel " << c;
  }
  EXPECT_EQ(got.report.input["resampled_to"], 48000.0);
  ASSERT_EQ(got.report.warnings.size(), 1u);
}

// A file whose data ends before its header says: the decoder's problem, raised as soon as the
// stream reaches the missing frames.
TEST(StemStream, DataMissingMidStreamIsTheFilesError) {
  const fs::path dir = lq::test::fresh_dir();
  lq::test::write_audio_file(dir / "t.flac", signal(2, kFrames, 48000.0, 4), 48000, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  fs::resize_file(dir / "t.flac", fs::file_size(dir / "t.flac") * 3 / 4);
  lq::cpu::ThreadPool pool(2);
  lq::CpuBackend backend(pool);
  const auto spec = stem(dir / "t.flac", true, 0.0);
  try {
    streamed(spec, 48000.0, 48000.0, kFrames, backend);
    FAIL() << "no error";
  } catch (const lq::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("t.flac"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated or corrupt"), std::string::npos) << e.what();
  }
}
