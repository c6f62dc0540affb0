// Audio file I/O: round trips hold exactly the quantised values, TPDF dither has the theoretical
// error power, the resampler keeps frequencies, and every malformed input of docs/verification.md
// "Bad input" (cases 1-13, 18, 19) is a one-line UserError naming the file and the problem; outputs
// are published atomically (cases 20, 21).
#include <bit>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "host/audio_io.hpp"
#include "host/errors.hpp"
#include "kernels/dsp/dither.hpp"
#include "support/expect_close.hpp"
#include "support/test_files.hpp"

namespace fs = std::filesystem;
using lq::AudioBuffer;
using lq::EncodeSpec;
using lq::OutputFormat;

namespace {

constexpr double kPi = 3.14159265358979323846;

AudioBuffer noise(int channels, int64_t frames, double rate, float amplitude, unsigned seed) {
  AudioBuffer a(channels, frames, rate);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-amplitude, amplitude);
  for (auto& c : a.channels) {
    for (auto& x : c) x = u(rng);
  }
  return a;
}

std::string bytes_of(const fs::path& p) { return lq::test::read_text_file(p); }
void put_bytes(const fs::path& p, const std::string& b) { lq::test::write_text_file(p, b); }

void put_le(std::string& s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A canonical 44-byte-header PCM WAV with every field chosen by the test, followed by
// `data_present` bytes of samples (a ramp).
std::string crafted_wav(int channels, uint32_t rate, int bits, uint32_t data_size_field, size_t data_present,
                        uint16_t format_tag = 1) {
  const int block_align = channels * ((bits + 7) / 8);
  std::string s = "RIFF";
  put_le(s, 36u + data_size_field, 4);
  s += "WAVEfmt ";
  put_le(s, 16, 4);
  put_le(s, format_tag, 2);
  put_le(s, static_cast<uint64_t>(channels), 2);
  put_le(s, rate, 4);
  put_le(s, static_cast<uint64_t>(rate) * static_cast<uint64_t>(block_align), 4);
  put_le(s, static_cast<uint64_t>(block_align), 2);
  put_le(s, static_cast<uint64_t>(bits), 2);
  s += "data";
  put_le(s, data_size_field, 4);
  for (size_t i = 0; i < data_present; ++i) s.push_back(static_cast<char>(i * 7));
  return s;
}

// Asserts that reading `path` throws a UserError whose single-line message holds the path and
// every one of `problems`.
void expect_rejected(const fs::path& path, std::initializer_list<const char*> problems) {
  try {
    lq::read_audio(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const lq::UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path.string()), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    for (const char* p : problems) EXPECT_NE(m.find(p), std::string::npos) << "missing '" << p << "' in: " << m;
  }
}

// The sample codes of a PCM WAV's data chunk, parsed from the bytes (independent of libsndfile).
std::vector<int32_t> wav_codes(const fs::path& p, int bytes_per_sample) {
  const std::string b = bytes_of(p);
  size_t pos = 12;
  while (pos + 8 <= b.size() && b.compare(pos, 4, "data") != 0) {
    uint32_t size = 0;
    std::memcpy(&size, b.data() + pos + 4, 4);
    pos += 8 + size + (size & 1);
  }
  std::vector<int32_t> codes;
  for (size_t i = pos + 8; i + static_cast<size_t>(bytes_per_sample) <= b.size(); i += static_cast<size_t>(bytes_per_sample)) {
    uint32_t v = 0;
    for (int k = 0; k < bytes_per_sample; ++k) v |= static_cast<uint32_t>(static_cast<unsigned char>(b[i + static_cast<size_t>(k)])) << (8 * k);
    const int shift = 32 - 8 * bytes_per_sample;
    codes.push_back(static_cast<int32_t>(v << shift) >> shift);
  }
  return codes;
}

struct ErrorStats {
  double power_db = 0.0;   // mean square of the error re full scale
  double mean_lsb = 0.0;
  double max_abs_lsb = 0.0;
};

ErrorStats quantisation_error(const AudioBuffer& in, const AudioBuffer& q, int bits) {
  const double lsb = std::ldexp(1.0, 1 - bits);
  double sum = 0.0, sum_sq = 0.0, worst = 0.0;
  size_t n = 0;
  for (size_t c = 0; c < in.channels.size(); ++c) {
    for (size_t i = 0; i < in.channels[c].size(); ++i) {
      const double e = static_cast<double>(q.channels[c][i]) - static_cast<double>(in.channels[c][i]);
      sum += e / lsb;
      sum_sq += e * e;
      worst = std::max(worst, std::fabs(e / lsb));
      ++n;
    }
  }
  return {10.0 * std::log10(sum_sq / static_cast<double>(n)), sum / static_cast<double>(n), worst};
}

}  // namespace

// ---- round trips --------------------------------------------------------------------------


struct RoundTripCase {
  OutputFormat format;
  int bits;
  int channels;
  const char* ext;
  const char* expected_format;
};

class AudioRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(AudioRoundTrip, ReadsBackExactlyTheQuantisedValues) {
  const RoundTripCase tc = GetParam();
  const fs::path dir = lq::test::fresh_dir();
  const fs::path out = dir / (std::string("master.") + tc.ext);
  AudioBuffer a = noise(tc.channels, 30'001, 44100.0, 1.1f, 5);  // beyond full scale: clamps too
  const EncodeSpec spec{tc.format, tc.bits, true, 1234};
  lq::quantize_in_place(a, spec);
  lq::write_audio_atomic(out, a, spec);
  lq::AudioFileInfo info;
  const AudioBuffer b = lq::read_audio(out, &info);
  ASSERT_EQ(b.channel_count(), tc.channels);
  EXPECT_EQ(b.sample_rate, 44100.0);
  EXPECT_EQ(info.frames, 30'001);
  EXPECT_EQ(info.format, tc.expected_format);
  for (int c = 0; c < tc.channels; ++c) {
    EXPECT_TRUE(lq::test::bit_equal(b.channels[size_t(c)], a.channels[size_t(c)])) << "channel " << c;
  }
  EXPECT_EQ(lq::test::list_dir(dir), std::vector<std::string>{out.filename().string()}) << "a temporary file was left";
}

INSTANTIATE_TEST_SUITE_P(
    Formats, AudioRoundTrip,
    ::testing::Values(RoundTripCase{OutputFormat::wav, 16, 1, "wav", "WAV PCM 16-bit"},
                      RoundTripCase{OutputFormat::wav, 16, 2, "wav", "WAV PCM 16-bit"},
                      RoundTripCase{OutputFormat::wav, 24, 2, "wav", "WAV PCM 24-bit"},
                      RoundTripCase{OutputFormat::wav, 32, 1, "wav", "WAV float 32-bit"},
                      RoundTripCase{OutputFormat::wav, 32, 2, "wav", "WAV float 32-bit"},
                      RoundTripCase{OutputFormat::flac, 16, 1, "flac", "FLAC 16-bit"},
                      RoundTripCase{OutputFormat::flac, 16, 2, "flac", "FLAC 16-bit"},
                      RoundTripCase{OutputFormat::flac, 24, 2, "flac", "FLAC 24-bit"}));

TEST(AudioWrite, WavFileHoldsTheQuantisedCodesByteForByte) {
  const fs::path dir = lq::test::fresh_dir();
  for (int bits : {16, 24}) {
    AudioBuffer a = noise(2, 5000, 48000.0, 1.0f, 9);
    const EncodeSpec spec{OutputFormat::wav, bits, true, 77};
    lq::quantize_in_place(a, spec);
    const fs::path out = dir / ("codes" + std::to_string(bits) + ".wav");
    lq::write_audio_atomic(out, a, spec);
    const std::vector<int32_t> codes = wav_codes(out, bits / 8);
    ASSERT_EQ(codes.size(), 2u * 5000u);
    int mismatches = 0;
    for (size_t i = 0; i < 5000; ++i) {
      for (size_t c = 0; c < 2; ++c) {
        mismatches += std::ldexp(static_cast<double>(codes[2 * i + c]), 1 - bits) != double(a.channels[c][i]);
      }
    }
    EXPECT_EQ(mismatches, 0) << bits << "-bit";
  }
}

TEST(AudioWrite, FloatOutputIsLeftUntouchedIncludingValuesBeyondFullScale) {
  AudioBuffer a = noise(2, 1000, 48000.0, 3.0f, 2);
  const AudioBuffer original = a;
  const EncodeSpec spec{OutputFormat::wav, 32, true, 1};
  lq::quantize_in_place(a, spec);
  for (size_t c = 0; c < 2; ++c) EXPECT_TRUE(lq::test::bit_equal(a.channels[c], original.channels[c]));
  const fs::path out = lq::test::fresh_dir() / "float.wav";
  lq::write_audio_atomic(out, a, spec);
  const AudioBuffer b = lq::read_audio(out);
  for (size_t c = 0; c < 2; ++c) EXPECT_TRUE(lq::test::bit_equal(b.channels[c], original.channels[c]));
}

TEST(AudioWrite, RefusesBitDepthsTheContainerCannotHold) {
  AudioBuffer a = noise(1, 100, 48000.0, 0.5f, 1);
  EXPECT_THROW(lq::quantize_in_place(a, EncodeSpec{OutputFormat::flac, 32, true, 0}), lq::UserError);
  EXPECT_THROW(lq::quantize_in_place(a, EncodeSpec{OutputFormat::wav, 20, true, 0}), lq::UserError);
  const fs::path dir = lq::test::fresh_dir();
  EXPECT_THROW(lq::write_audio_atomic(dir / "x.flac", a, EncodeSpec{OutputFormat::flac, 32, true, 0}), lq::UserError);
  EXPECT_TRUE(lq::test::list_dir(dir).empty());
}

// ---- dither -------------------------------------------------------------------------------

// Non-subtractive TPDF dither (Wannamaker, Lipshitz & Vanderkooy 2000): total error power
// LSB^2/12 + LSB^2/6 = LSB^2/4 whatever the input, i.e. 20*log10(2^-bits) re full scale
// (-96.33 dB at 16 bits, -144.49 dB at 24 bits); zero mean; |error| < 1.5 LSB.
TEST(Dither, ErrorPowerMeanAndBoundsMatchTpdfTheoryForAnyInput) {
  const int64_t n = 600'000;  // x 2 channels = 1.2e6 samples per case
  for (int bits : {16, 24}) {
    const double expected_db = 20.0 * std::log10(std::ldexp(1.0, -bits));
    AudioBuffer sine(2, n, 48000.0);
    for (int64_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < 2; ++c) {
        sine.channels[c][size_t(i)] = static_cast<float>(0.3 * std::sin(2.0 * kPi * 997.0 * double(i) / 48000.0 + double(c)));
      }
    }
    const AudioBuffer silence(2, n, 48000.0);
    for (const AudioBuffer* in : std::initializer_list<const AudioBuffer*>{&sine, &silence}) {
      AudioBuffer q = *in;
      lq::quantize_in_place(q, EncodeSpec{OutputFormat::wav, bits, true, 42});
      const ErrorStats e = quantisation_error(*in, q, bits);
      EXPECT_NEAR(e.power_db, expected_db, 0.1) << bits << "-bit, " << (in == &sine ? "sine" : "silence");
      EXPECT_LT(std::fabs(e.mean_lsb), 0.01);
      EXPECT_LT(e.max_abs_lsb, 1.5);
      if (in == &sine) {
        EXPECT_GT(e.max_abs_lsb, 1.0) << "the dither should reach beyond 1 LSB";
      }
      RecordProperty(std::to_string(bits) + (in == &sine ? "bit_sine_error_db" : "bit_silence_error_db"),
                     std::to_string(e.power_db));
    }
  }
}

TEST(Dither, WithoutDitherTheErrorIsPlainRoundingWithinHalfAnLsb) {
  AudioBuffer in = noise(1, 200'000, 48000.0, 0.5f, 3);
  AudioBuffer q = in;
  lq::quantize_in_place(q, EncodeSpec{OutputFormat::wav, 16, false, 0});
  const ErrorStats e = quantisation_error(in, q, 16);
  EXPECT_LE(e.max_abs_lsb, 0.5);
  EXPECT_NEAR(e.power_db, 20.0 * std::log10(std::ldexp(1.0, -15)) - 10.0 * std::log10(12.0), 0.1);  // LSB^2/12
}

TEST(Dither, NoiseIsTriangularOnPlusMinusOneLsb) {
  const int n = 1'000'000;
  double sum = 0.0, sum_sq = 0.0, lo = 0.0, hi = 0.0;
  int inner = 0;
  for (int i = 0; i < n; ++i) {
    const double d = lq::dsp::tpdf_dither_lsb(7, 0, i);
    sum += d;
    sum_sq += d * d;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    inner += std::fabs(d) < 0.5;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.002);
  EXPECT_NEAR(sum_sq / n, 1.0 / 6.0, 0.002);                  // variance of the triangular pdf on [-1, 1]
  EXPECT_NEAR(static_cast<double>(inner) / n, 0.75, 0.002);   // P(|d| < 1/2) = 3/4
  EXPECT_GE(lo, -1.0);
  EXPECT_LT(hi, 1.0);
}

// Blocks of frames quantised in parallel give the bits of the sequential loop, and every sample is
// the scalar definition (dsp::quantize_to_code of the sample and its own dither value, then
// dsp::code_to_float), with and without dither, for values that clamp, NaN and infinities too.
TEST(Dither, ParallelQuantisationEqualsTheSequentialDefinition) {
  const int64_t n = 3 * (int64_t{1} << 16) + 12345;
  AudioBuffer in(2, n, 48000.0);
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 0.4f);
  for (auto& ch : in.channels) {
    for (auto& v : ch) v = g(rng);
  }
  in.channels[0][7] = 3.0f;  // clamps
  in.channels[1][8] = -3.0f;
  in.channels[0][9] = std::numeric_limits<float>::quiet_NaN();
  in.channels[1][10] = std::numeric_limits<float>::infinity();
  in.channels[0][11] = -std::numeric_limits<float>::infinity();
  in.channels[1][12] = 1.0f;   // the top code is 2^(bits-1) - 1
  in.channels[0][13] = -1.0f;  // the bottom code, exactly
  lq::cpu::ThreadPool pool(2);
  for (const bool dither : {true, false}) {
    for (int bits : {16, 24}) {
      const EncodeSpec spec{OutputFormat::wav, bits, dither, 1234};
      AudioBuffer seq = in, par = in;
      lq::quantize_in_place(seq, spec);
      lq::quantize_in_place(par, spec, &pool);
      for (size_t c = 0; c < 2; ++c) {
        EXPECT_TRUE(lq::test::bit_equal(seq.channels[c], par.channels[c])) << bits << " bits, channel " << c;
        int64_t mismatches = 0;
        for (int64_t i = 0; i < n; ++i) {
          const double d = dither ? lq::dsp::tpdf_dither_lsb(1234, int(c), i) : 0.0;
          const float want = lq::dsp::code_to_float(lq::dsp::quantize_to_code(in.channels[c][size_t(i)], bits, d), bits);
          mismatches += std::bit_cast<uint32_t>(par.channels[c][size_t(i)]) != std::bit_cast<uint32_t>(want);
        }
        EXPECT_EQ(mismatches, 0) << bits << " bits, dither " << dither << ", channel " << c;
      }
    }
  }
}

TEST(Dither, SameSeedGivesTheSameBitsAndChannelsOrSeedsGiveUncorrelatedNoise) {
  const int64_t n = 200'000;
  AudioBuffer in(2, n, 48000.0);
  for (int64_t i = 0; i < n; ++i) in.channels[0][size_t(i)] = in.channels[1][size_t(i)] = 0.25f * std::sin(0.01f * float(i));
  const EncodeSpec spec{OutputFormat::wav, 16, true, 99};
  AudioBuffer a = in, b = in, other_seed = in;
  lq::quantize_in_place(a, spec);
  lq::quantize_in_place(b, spec);
  lq::quantize_in_place(other_seed, EncodeSpec{OutputFormat::wav, 16, true, 100});
  for (size_t c = 0; c < 2; ++c) EXPECT_TRUE(lq::test::bit_equal(a.channels[c], b.channels[c]));
  const auto correlation = [&](const std::vector<float>& x, const std::vector<float>& y) {
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double ex = double(x[i]) - double(in.channels[0][i]), ey = double(y[i]) - double(in.channels[0][i]);
      sxy += ex * ey;
      sxx += ex * ex;
      syy += ey * ey;
    }
    return sxy / std::sqrt(sxx * syy);
  };
  EXPECT_LT(std::fabs(correlation(a.channels[0], a.channels[1])), 0.01) << "channels share their noise";
  EXPECT_LT(std::fabs(correlation(a.channels[0], other_seed.channels[0])), 0.01) << "seeds share their noise";
}

TEST(Dither, FullScaleInputSaturatesAndNeverWraps) {
  for (int bits : {16, 24}) {
    AudioBuffer a(1, 10'000, 48000.0);
    for (size_t i = 0; i < 10'000; ++i) a.channels[0][i] = (i % 4 == 0) ? 1.0f : (i % 4 == 1) ? -1.0f : (i % 4 == 2) ? 8.0f : -8.0f;
    lq::quantize_in_place(a, EncodeSpec{OutputFormat::wav, bits, true, 5});
    const float top = static_cast<float>(1.0 - std::ldexp(1.0, 1 - bits));
    for (size_t i = 0; i < 10'000; ++i) {
      const bool positive = i % 4 == 0 || i % 4 == 2;
      if (positive) {
        ASSERT_GE(a.channels[0][i], top - static_cast<float>(std::ldexp(1.0, 1 - bits))) << i;  // at most 1 LSB of dither below
        ASSERT_LE(a.channels[0][i], top) << i;
      } else {
        ASSERT_GE(a.channels[0][i], -1.0f) << i;
        ASSERT_LE(a.channels[0][i], -1.0f + 2.0f * static_cast<float>(std::ldexp(1.0, 1 - bits))) << i;
      }
    }
    EXPECT_EQ(a.channels[0][2], top) << "far beyond full scale clamps to the top code";
    EXPECT_EQ(a.channels[0][3], -1.0f);
  }
}

// ---- resampling ---------------------------------------------------------------------------

// Frequency from the upward zero crossings (linearly interpolated) of the middle 80 %.
double measured_frequency(const std::vector<float>& x, double rate) {
  const size_t a = x.size() / 10, b = x.size() - x.size() / 10;
  double first = -1.0, last = -1.0;
  int crossings = 0;
  for (size_t i = a; i + 1 < b; ++i) {
    if (x[i] < 0.0f && x[i + 1] >= 0.0f) {
      const double t = double(i) + double(x[i]) / (double(x[i]) - double(x[i + 1]));
      if (first < 0.0) first = t;
      last = t;
      ++crossings;
    }
  }
  return (crossings - 1) * rate / (last - first);
}

TEST(Resample, OneKilohertzAt44100ComesOutAtOneKilohertzAt48000) {
  AudioBuffer in(2, 44'100, 44'100.0);
  for (size_t i = 0; i < 44'100; ++i) {
    in.channels[0][i] = static_cast<float>(0.5 * std::sin(2.0 * kPi * 1000.0 * double(i) / 44'100.0));
    in.channels[1][i] = -in.channels[0][i];
  }
  const AudioBuffer out = lq::resample(in, 48'000.0);
  EXPECT_EQ(out.sample_rate, 48'000.0);
  ASSERT_EQ(out.frames(), 48'000);
  EXPECT_NEAR(measured_frequency(out.channels[0], 48'000.0), 1000.0, 0.1);
  EXPECT_NEAR(measured_frequency(in.channels[0], 44'100.0), 1000.0, 0.1) << "the measurement itself";
  // Time-aligned with the analytic tone (soxr compensates its filter delay), away from the edges.
  std::vector<float> mid(out.channels[0].begin() + 4800, out.channels[0].end() - 4800);
  std::vector<double> ref;
  for (size_t i = 4800; i < 48'000 - 4800; ++i) ref.push_back(0.5 * std::sin(2.0 * kPi * 1000.0 * double(i) / 48'000.0));
  EXPECT_TRUE(lq::test::all_close(mid, ref, {1e-6, 0.0, "VHQ passband ripple (measured 2.4e-8) and float32 I/O"}));
  for (size_t i = 0; i < 48'000; ++i) ASSERT_EQ(out.channels[1][i], -out.channels[0][i]) << i;
}

TEST(Resample, OutputLengthIsTheRoundedRatioAndResultsAreDeterministic) {
  const AudioBuffer in = noise(1, 1001, 44'100.0, 0.5f, 4);
  const AudioBuffer a = lq::resample(in, 48'000.0), b = lq::resample(in, 48'000.0);
  EXPECT_EQ(a.frames(), std::llround(1001.0 * 48'000.0 / 44'100.0));  // 1089.5... -> 1090
  EXPECT_TRUE(lq::test::bit_equal(a.channels[0], b.channels[0]));
  EXPECT_EQ(lq::resample(in, 22'050.0).frames(), std::llround(1001.0 / 2.0));
  const AudioBuffer same = lq::resample(in, 44'100.0);
  EXPECT_TRUE(lq::test::bit_equal(same.channels[0], in.channels[0]));
  EXPECT_THROW(lq::resample(in, 1.0), lq::UserError);
}

// ---- reading: accepted inputs -------------------------------------------------------------

TEST(ReadAudio, AcceptsEightBitAiffRf64AndValuesBeyondFullScale) {
  const fs::path dir = lq::test::fresh_dir();
  std::vector<std::vector<float>> ramp(2, std::vector<float>(256));
  for (size_t i = 0; i < 256; ++i) ramp[0][i] = ramp[1][i] = static_cast<float>(int(i) - 128) / 128.0f;
  lq::test::write_audio_file(dir / "u8.wav", ramp, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_U8);
  lq::test::write_audio_file(dir / "a.aiff", ramp, 96'000, SF_FORMAT_AIFF | SF_FORMAT_PCM_24);
  lq::test::write_audio_file(dir / "r.wav", ramp, 48'000, SF_FORMAT_RF64 | SF_FORMAT_PCM_16);
  lq::test::write_audio_file(dir / "d.wav", ramp, 48'000, SF_FORMAT_WAV | SF_FORMAT_DOUBLE);
  for (const char* name : {"u8.wav", "a.aiff", "r.wav", "d.wav"}) {
    const AudioBuffer a = lq::read_audio(dir / name);
    const lq::test::DecodedFile plain = lq::test::read_audio_file(dir / name);  // libsndfile, no checks
    ASSERT_EQ(a.frames(), 256) << name;
    for (size_t c = 0; c < 2; ++c) EXPECT_TRUE(lq::test::bit_equal(a.channels[c], plain.channels[c])) << name;
    EXPECT_TRUE(lq::test::all_close(a.channels[1], ramp[1], {1.0 / 127.0, 0.0, "8-bit grid"})) << name;
  }
  // Lossy: only the decoder's own frame count and sanity are checked.
  const AudioBuffer tone = [] {
    AudioBuffer t(2, 48'000, 48'000.0);
    for (size_t i = 0; i < 48'000; ++i) t.channels[0][i] = t.channels[1][i] = 0.5f * std::sin(0.05f * float(i));
    return t;
  }();
  lq::test::write_audio_file(dir / "v.ogg", tone.channels, 48'000, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  lq::AudioFileInfo ogg;
  const AudioBuffer v = lq::read_audio(dir / "v.ogg", &ogg);
  EXPECT_EQ(ogg.format, "OGG Vorbis");
  EXPECT_EQ(v.frames(), 48'000);
  EXPECT_NEAR(ogg.peak_dbfs, 20.0 * std::log10(0.5), 0.5);
  // docs/verification.md "Bad input" case 13: +6 dBFS float samples are valid and kept.
  lq::test::write_audio_file(dir / "hot.wav", {{0.5f, 2.0f, -3.5f, 0.0f}}, 48'000);
  lq::AudioFileInfo info;
  const AudioBuffer hot = lq::read_audio(dir / "hot.wav", &info);
  EXPECT_EQ(hot.channels[0][1], 2.0f);
  EXPECT_EQ(hot.channels[0][2], -3.5f);
  EXPECT_NEAR(info.peak_dbfs, 20.0 * std::log10(3.5), 1e-9);
  EXPECT_EQ(info.format, "WAV float 32-bit");
}

// Integer PCM is read through sf_readf_int and scaled by 2^-31 in AudioReader: the floats must be
// libsndfile's own sf_readf_float ones, bit for bit, for every integer subtype and container
// (little- and big-endian, FLAC), mono and stereo, over several of the reader's blocks, with the
// extreme codes and random full-range ones (32-bit codes with more bits than a float holds).
TEST(ReadAudio, IntegerPcmGivesLibsndfilesFloatsBitForBit) {
  const fs::path dir = lq::test::fresh_dir();
  const std::pair<const char*, int> formats[] = {
      {"s16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16},   {"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24},
      {"s32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32},   {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8},
      {"s24.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24}, {"s8.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_S8},
      {"s16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16}, {"s24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24}};
  const int64_t frames = 150'002;  // more than two of the reader's 65536-frame blocks (even: 8-bit AIFF pads)
  std::mt19937 rng(7);
  for (int channels : {1, 2}) {
    std::vector<int> codes(size_t(frames * channels));
    for (auto& v : codes) v = int(rng());
    codes[0] = std::numeric_limits<int>::min();
    codes[1] = std::numeric_limits<int>::max();
    codes[2] = 0;
    codes[3] = -1;
    for (const auto& [name, format] : formats) {
      const fs::path file = dir / (std::to_string(channels) + name);
      SF_INFO info{};
      info.samplerate = 48'000;
      info.channels = channels;
      info.format = format;
      SNDFILE* snd = sf_open(file.c_str(), SFM_WRITE, &info);
      ASSERT_NE(snd, nullptr) << name << ": " << sf_strerror(nullptr);
      ASSERT_EQ(sf_writef_int(snd, codes.data(), frames), frames) << name;
      sf_close(snd);
      lq::AudioFileInfo got_info;
      const AudioBuffer got = lq::read_audio(file, &got_info);
      const lq::test::DecodedFile want = lq::test::read_audio_file(file);  // sf_readf_float
      ASSERT_EQ(got.channel_count(), channels) << name;
      ASSERT_EQ(got.frames(), frames) << name;
      float peak = 0.0f;
      for (int c = 0; c < channels; ++c) {
        EXPECT_TRUE(lq::test::bit_equal(got.channels[size_t(c)], want.channels[size_t(c)])) << channels << name;
        for (float x : want.channels[size_t(c)]) peak = std::max(peak, std::fabs(x));
      }
      EXPECT_EQ(got_info.peak_dbfs, 20.0 * std::log10(double(peak))) << channels << name;
    }
  }
}

// ---- reading: rejected inputs (docs/verification.md "Bad input") -----------------------------

TEST(ReadAudio, RejectsEmptyAndNonAudioFiles) {  // cases 1, 2, 3
  const fs::path dir = lq::test::fresh_dir();
  put_bytes(dir / "empty.wav", "");
  expect_rejected(dir / "empty.wav", {"empty"});
  put_bytes(dir / "text.wav", "This is not audio, just a text file renamed .wav\n");
  expect_rejected(dir / "text.wav", {"not a readable audio file"});
  put_bytes(dir / "image.wav", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + std::string(100, '\0'));
  expect_rejected(dir / "image.wav", {"not a readable audio file"});
  put_bytes(dir / "cut.wav", crafted_wav(1, 48'000, 16, 400, 400).substr(0, 30));
  expect_rejected(dir / "cut.wav", {"not a readable audio file"});
  put_bytes(dir / "tag.wav", crafted_wav(1, 48'000, 16, 400, 400, 0x1234));
  expect_rejected(dir / "tag.wav", {"not a readable audio file"});
}

TEST(ReadAudio, RejectsAFileWithNoFrames) {  // case 4
  const fs::path p = lq::test::fresh_dir() / "zero.wav";
  put_bytes(p, crafted_wav(2, 48'000, 16, 0, 0));
  expect_rejected(p, {"no audio"});
}

TEST(ReadAudio, RejectsAWavWhoseDataChunkClaimsMoreThanTheFileHolds) {  // case 5
  const fs::path dir = lq::test::fresh_dir();
  put_bytes(dir / "short.wav", crafted_wav(1, 48'000, 16, 10'000'000, 400));
  expect_rejected(dir / "short.wav", {"truncated", "declared 5000000 frames, found 200"});
  put_bytes(dir / "huge.wav", crafted_wav(2, 48'000, 16, 0xFFFFFFFFu, 400));
  expect_rejected(dir / "huge.wav", {"truncated", "declared 1073741823 frames, found 100"});
  // A real file cut short: 24-bit stereo, 1000 frames, the last 600 bytes gone.
  lq::test::write_audio_file(dir / "cut.wav", std::vector<std::vector<float>>(2, std::vector<float>(1000, 0.25f)), 48'000,
                             SF_FORMAT_WAV | SF_FORMAT_PCM_24);
  const std::string b = bytes_of(dir / "cut.wav");
  put_bytes(dir / "cut.wav", b.substr(0, b.size() - 600));
  expect_rejected(dir / "cut.wav", {"truncated", "declared 1000 frames, found 900"});
}

TEST(ReadAudio, RejectsTruncatedAiffAndRf64) {  // case 5 in the other containers
  const fs::path dir = lq::test::fresh_dir();
  const std::vector<std::vector<float>> x(1, std::vector<float>(1000, 0.5f));
  lq::test::write_audio_file(dir / "a.aiff", x, 48'000, SF_FORMAT_AIFF | SF_FORMAT_PCM_16);
  lq::test::write_audio_file(dir / "r.wav", x, 48'000, SF_FORMAT_RF64 | SF_FORMAT_PCM_16);
  for (const char* name : {"a.aiff", "r.wav"}) {
    const std::string b = bytes_of(dir / name);
    put_bytes(dir / name, b.substr(0, b.size() - 1000));
    expect_rejected(dir / name, {"truncated", "declared 1000 frames"});
  }
}

TEST(ReadAudio, RejectsTruncatedOrCorruptFlac) {  // case 6
  const fs::path dir = lq::test::fresh_dir();
  const AudioBuffer n = noise(2, 240'000, 48'000.0, 0.5f, 8);
  lq::test::write_audio_file(dir / "good.flac", n.channels, 48'000, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  const std::string b = bytes_of(dir / "good.flac");
  put_bytes(dir / "half.flac", b.substr(0, b.size() / 2));
  expect_rejected(dir / "half.flac", {"truncated or corrupt", "declared 240000 frames"});
  std::string corrupt = b;
  for (size_t i = 0; i < 200; ++i) corrupt[b.size() / 2 + i] = static_cast<char>(0xA5 ^ i);
  put_bytes(dir / "corrupt.flac", corrupt);
  expect_rejected(dir / "corrupt.flac", {"declared 240000 frames"});
  put_bytes(dir / "header.flac", b.substr(0, 8192));
  expect_rejected(dir / "header.flac", {});
  EXPECT_EQ(lq::read_audio(dir / "good.flac").frames(), 240'000);
}

TEST(ReadAudio, RejectsChannelCountsOtherThanMonoOrStereo) {  // cases 7, 8, 17
  const fs::path dir = lq::test::fresh_dir();
  put_bytes(dir / "c0.wav", crafted_wav(0, 48'000, 16, 400, 400));
  expect_rejected(dir / "c0.wav", {});
  put_bytes(dir / "c3.wav", crafted_wav(3, 48'000, 16, 600, 600));
  expect_rejected(dir / "c3.wav", {"3 channels: only mono and stereo are supported"});
  put_bytes(dir / "c1024.wav", crafted_wav(1024, 48'000, 16, 2048 * 4, 2048 * 4));
  expect_rejected(dir / "c1024.wav", {"1024 channels: only mono and stereo are supported"});
}

TEST(ReadAudio, RejectsSampleRatesOutsideEightTo768Kilohertz) {  // cases 9, 10
  const fs::path dir = lq::test::fresh_dir();
  put_bytes(dir / "r0.wav", crafted_wav(1, 0, 16, 400, 400));
  expect_rejected(dir / "r0.wav", {});
  for (uint32_t rate : {1u, 7000u, 1'000'000'000u}) {
    const fs::path p = dir / ("r" + std::to_string(rate) + ".wav");
    put_bytes(p, crafted_wav(1, rate, 16, 400, 400));
    expect_rejected(p, {("sample rate " + std::to_string(rate) + " Hz is outside [8000, 768000] Hz").c_str()});
  }
}

TEST(ReadAudio, RejectsSampleSizesOutsideTheAllowList) {  // case 11
  const fs::path dir = lq::test::fresh_dir();
  put_bytes(dir / "b7.wav", crafted_wav(1, 48'000, 7, 400, 400));
  expect_rejected(dir / "b7.wav", {"unsupported", "7-bit"});
  put_bytes(dir / "b12.wav", crafted_wav(1, 48'000, 12, 400, 400));
  expect_rejected(dir / "b12.wav", {"unsupported", "12-bit"});
}

TEST(ReadAudio, RejectsNanAndInfSamplesCountingThem) {  // cases 12, 18
  const fs::path p = lq::test::fresh_dir() / "nan.wav";
  std::vector<std::vector<float>> x(2, std::vector<float>(100, 0.1f));
  x[1][10] = std::nanf("");
  x[0][20] = INFINITY;
  x[1][30] = -INFINITY;
  lq::test::write_audio_file(p, x, 48'000);
  expect_rejected(p, {"3 NaN/Inf samples (first at frame 10)"});
}

TEST(ReadAudio, RejectsUnusablePathsWithTheSystemsReason) {  // case 19
  const fs::path dir = lq::test::fresh_dir();
  expect_rejected(dir / "missing.wav", {"No such file or directory"});
  expect_rejected(dir, {"is a directory"});
  put_bytes(dir / "plain.txt", "x");
  expect_rejected(dir / "plain.txt" / "inside.wav", {"Not a directory"});
  fs::create_symlink(dir / "gone.wav", dir / "link.wav");
  expect_rejected(dir / "link.wav", {"broken symbolic link"});
}

// Root ignores file modes, so the check runs in a child that gives up root first.
TEST(ReadAudio, RejectsAnUnreadableFileWithPermissionDenied) {
  const fs::path p = lq::test::fresh_dir() / "locked.wav";
  lq::test::write_audio_file(p, {{0.1f, 0.2f}}, 48'000);
  fs::permissions(p, fs::perms::none);
  const auto child = [&] {
    if (::geteuid() == 0 && ::setuid(65534) != 0) std::_Exit(3);
    try {
      lq::read_audio(p);
    } catch (const lq::UserError& e) {
      const std::string m = e.what();
      std::_Exit(m.find(p.string()) != std::string::npos && m.find("Permission denied") != std::string::npos ? 0 : 2);
    }
    std::_Exit(1);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
  fs::permissions(p, fs::perms::owner_all);
}

// ---- atomic writes (docs/verification.md "Bad input" cases 20, 21) --------------------------
// (docs/data-safety.md "Outputs published together")

TEST(AtomicWrite, AMissingFolderThrowsNamingTheOutputAndCreatesNothing) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path out = dir / "no_such_folder" / "master.wav";
  const AudioBuffer a = noise(2, 100, 48'000.0, 0.5f, 1);
  try {
    lq::write_audio_atomic(out, a, EncodeSpec{});
    FAIL() << "no error";
  } catch (const lq::UserError& e) {
    EXPECT_NE(std::string(e.what()).find(out.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  EXPECT_THROW(lq::write_text_atomic(out.parent_path() / "report.json", "{}"), lq::UserError);
  EXPECT_TRUE(lq::test::list_dir(dir).empty());
}

TEST(AtomicWrite, AFailedWriteLeavesThePreviousFileIntactAndNoTemporaryFile) {
  const fs::path dir = lq::test::fresh_dir();
  const fs::path out = dir / "master.wav";
  const AudioBuffer small = noise(2, 100, 48'000.0, 0.5f, 1);
  lq::write_audio_atomic(out, small, EncodeSpec{});
  const std::string before = bytes_of(out);
  // A file-size limit makes the write fail with EFBIG part-way, as a full disk would.
  const AudioBuffer big = noise(2, 200'000, 48'000.0, 0.5f, 2);
  const auto child = [&] {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{65'536, 65'536};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) std::_Exit(3);
    try {
      lq::write_audio_atomic(out, big, EncodeSpec{});
    } catch (const lq::UserError& e) {
      std::_Exit(std::string(e.what()).find(out.string()) != std::string::npos ? 0 : 2);
    }
    std::_Exit(1);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(bytes_of(out), before);
  EXPECT_EQ(lq::test::list_dir(dir), std::vector<std::string>{"master.wav"});
}

TEST(AtomicWrite, AnOutputPathThatIsAFolderFailsAndLeavesNoTemporaryFile) {
  const fs::path dir = lq::test::fresh_dir();
  fs::create_directory(dir / "taken.wav");
  EXPECT_THROW(lq::write_audio_atomic(dir / "taken.wav", noise(1, 10, 48'000.0, 0.5f, 1), EncodeSpec{}), lq::UserError);
  EXPECT_THROW(lq::write_text_atomic(dir / "taken.wav", "x"), lq::UserError);
  EXPECT_EQ(lq::test::list_dir(dir), std::vector<std::string>{"taken.wav"});
}

TEST(AtomicWrite, TextIsReplacedWhole) {
  const fs::path dir = lq::test::fresh_dir();
  lq::write_text_atomic(dir / "r.json", std::string(100'000, 'a'));
  lq::write_text_atomic(dir / "r.json", "{\"ok\": true}\n");
  EXPECT_EQ(bytes_of(dir / "r.json"), "{\"ok\": true}\n");
  EXPECT_EQ(lq::test::list_dir(dir), std::vector<std::string>{"r.json"});
}
