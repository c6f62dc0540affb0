// The song mixed in spans (host/mix_stream.hpp) against the same graph over whole buffers: each
// stem's chain over the whole stem, group and send buses of the song's length, apply_eq,
// Backend::compress, apply_width and add_reverb_return over whole buses. A song of several steps
// and reverb spans, with a reverb returning into a group (with predelay), a group sending to the
// master's reverb, a mono stem, a group no stem feeds, and group EQ and compressor with look-ahead.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <sndfile.h>

#include "host/audio_io.hpp"
#include "host/backend.hpp"
#include "host/mix_stream.hpp"
#include "host/mixing.hpp"
#include "kernels/dsp/common.hpp"
#include "support/expect_close.hpp"
#include "support/test_files.hpp"

namespace {

namespace fs = std::filesystem;
using lq::AudioBuffer;

constexpr double kRate = 48000.0;
constexpr int64_t kSong = 1300000;  // about 27 s: ten steps, two spans of each reverb

std::vector<std::vector<float>> noise(int channels, int64_t frames, unsigned seed, double burst_s) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.2f);
  std::vector<std::vector<float>> x(static_cast<size_t>(channels), std::vector<float>(static_cast<size_t>(frames)));
  for (int64_t i = 0; i < frames; ++i) {
    const float env = std::fmod(double(i) / kRate, burst_s) < burst_s / 3 ? 1.0f : 0.05f;
    for (int c = 0; c < channels; ++c) x[size_t(c)][size_t(i)] = std::clamp(env * g(rng), -0.95f, 0.95f);
  }
  return x;
}

AudioBuffer ir(int channels, int64_t frames, unsigned seed) {
  AudioBuffer a(channels, frames, kRate);
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.05f);
  for (auto& ch : a.channels) {
    for (int64_t i = 0; i < frames; ++i) ch[size_t(i)] = g(rng) * float(std::exp(-3.0 * double(i) / double(frames)));
  }
  return a;
}

lq::dsp::CompressorParams comp(double lookahead_ms) {
  lq::dsp::CompressorParams p;
  p.threshold_db = -26.0;
  p.ratio = 3.0;
  p.lookahead_ms = lookahead_ms;
  return p;
}

struct Song {
  lq::Session session;
  std::map<std::string, AudioBuffer> irs;
  std::vector<int> rates;
};

Song song(const fs::path& dir) {
  Song s;
  lq::test::write_audio_file(dir / "a.wav", noise(2, kSong, 1, 0.3), 48000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  lq::test::write_audio_file(dir / "b.wav", noise(1, kSong - 50000, 2, 0.7), 48000, SF_FORMAT_WAV | SF_FORMAT_PCM_24);
  lq::test::write_audio_file(dir / "c.flac", noise(2, kSong - 3, 3, 0.2), 48000, SF_FORMAT_FLAC | SF_FORMAT_PCM_24);
  const std::vector<lq::EqBand> eq = {{lq::EqBandType::low_shelf, 120.0, 3.0, 0.7071067811865476, 12},
                                      {lq::EqBandType::bell, 2500.0, -2.0, 1.0, 12}};
  auto& st = s.session.stems;
  st.push_back({"a", dir / "a.wav", "drums", -1.0, 0.2, eq, comp(0.0), {{"room", -8.0}, {"plate", -12.0}}});
  st.push_back({"b", dir / "b.wav", "music", 0.0, -0.4, {}, comp(3.0), {{"plate", -6.0}}});
  st.push_back({"c", dir / "c.flac", "drums", 2.0, 0.0, eq, std::nullopt, {}});
  st.push_back({"d", dir / "c.flac", "music", -3.0, 0.5, {}, std::nullopt, {{"room", -9.0}}});
  auto& gr = s.session.groups;
  gr.push_back({"empty", {}, std::nullopt, 1.0, 0.0, {}});
  gr.push_back({"drums", eq, comp(2.0), 1.4, -1.5, {}});
  gr.push_back({"music", {}, std::nullopt, 0.8, 1.0, {{"room", -10.0}}});
  s.session.reverbs.push_back({"plate", dir / "plate.wav", 5.0, -2.0, "music"});
  s.session.reverbs.push_back({"room", dir / "room.wav", 12.0, -3.0, ""});
  s.irs.emplace("plate", ir(2, 24000, 4));
  s.irs.emplace("room", ir(1, 144000, 5));
  s.rates = {48000, 48000, 48000, 48000};
  return s;
}

// The whole-buffer graph (the render's order of sums).
AudioBuffer whole_mix(const Song& s, lq::Backend& backend, std::map<std::string, AudioBuffer>& group_out) {
  std::map<std::string, AudioBuffer> group, send;
  auto bus = [&](std::map<std::string, AudioBuffer>& m, const std::string& k) -> AudioBuffer& {
    AudioBuffer& b = m[k];
    if (b.channels.empty()) b = AudioBuffer(2, kSong, kRate);
    return b;
  };
  for (const auto& st : s.session.stems) {
    AudioBuffer x = lq::to_stereo(lq::read_audio(st.file), st.pan, st.gain_db);
    x.resize_frames(kSong);
    lq::apply_eq(x, st.eq, backend);
    if (st.compressor) backend.compress(x, *st.compressor);
    for (const auto& r : st.sends) lq::add_into(bus(send, r.reverb), x, float(lq::dsp::db_to_linear(r.level_db)));
    lq::add_into(bus(group, st.group), x);
  }
  auto predelay = [](const lq::ReverbSpec& r) { return std::llround(r.predelay_ms * 1e-3 * kRate); };
  for (const auto& r : s.session.reverbs) {
    if (!r.return_to.empty()) lq::add_reverb_return(group[r.return_to], send.at(r.name), s.irs.at(r.name), predelay(r), r.wet_db, backend);
  }
  AudioBuffer master(2, kSong, kRate);
  for (const auto& g : s.session.groups) {
    auto it = group.find(g.name);
    if (it == group.end()) continue;
    AudioBuffer& b = it->second;
    lq::apply_eq(b, g.eq, backend);
    if (g.compressor) backend.compress(b, *g.compressor);
    lq::apply_width(b, g.width);
    lq::apply_gain(b, g.gain_db);
    for (const auto& r : g.sends) lq::add_into(send[r.reverb], b, float(lq::dsp::db_to_linear(r.level_db)));
    lq::add_into(master, b);
    group_out[g.name] = b;
  }
  for (const auto& r : s.session.reverbs) {
    if (r.return_to.empty()) lq::add_reverb_return(master, send.at(r.name), s.irs.at(r.name), predelay(r), r.wet_db, backend);
  }
  return master;
}

}  // namespace

TEST(MixStream, TheSongMixedInSpansHasTheWholeBufferGraphsBits) {
  const fs::path dir = lq::test::fresh_dir();
  const Song s = song(dir);
  lq::cpu::ThreadPool one(1);
  lq::CpuBackend reference_backend(one);
  std::map<std::string, AudioBuffer> groups;
  const AudioBuffer expected = whole_mix(s, reference_backend, groups);
  ASSERT_GT(expected.frames(), kSong + 144000) << "the room's tail lengthens the master";
  for (const int threads : {1, 2}) {
    lq::cpu::ThreadPool pool(threads);
    lq::CpuBackend backend(pool);
    nlohmann::json timing = nlohmann::json::object(), warnings = nlohmann::json::array();
    lq::MixResult got = lq::mix_song(s.session, s.rates, kRate, kSong, s.irs, true, backend, pool, timing, warnings);
    ASSERT_EQ(got.master.frames(), expected.frames()) << threads << " threads";
    for (int c = 0; c < 2; ++c) {
      EXPECT_TRUE(lq::test::bit_equal(got.master.channels[size_t(c)], expected.channels[size_t(c)]))
          << threads << " threads, channel " << c;
    }
    ASSERT_EQ(got.exported_groups.size(), 2u) << "a group no stem or reverb reaches has no bus";
    for (const auto& [name, bus] : got.exported_groups) {
      ASSERT_EQ(bus.frames(), groups.at(name).frames()) << name;
      EXPECT_TRUE(lq::test::bit_equal(bus.channels[1], groups.at(name).channels[1])) << name;
    }
    ASSERT_EQ(got.groups.size(), 2u);
    EXPECT_EQ(got.groups[0]["name"], "drums");
    EXPECT_GT(got.groups[0]["compressor"]["max_gain_reduction_db"].get<double>(), 1.0);
    EXPECT_EQ(got.inputs.size(), 4u);
    EXPECT_EQ(got.inputs[1]["channels"], 1);
  }
}
