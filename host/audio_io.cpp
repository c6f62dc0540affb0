// Audio file I/O: libsndfile for the codecs, our own checks for what it lets through
// (docs/verification.md "What libsndfile lets through": truncated WAV data clamped silently, 1 Hz /
// 1 GHz rates, 1024 channels, 7-bit PCM, NaN/Inf), libsoxr for rate conversion, atomic publication
// of outputs (docs/data-safety.md "Outputs published together").
#include "host/audio_io.hpp"

#include <fcntl.h>
#include <sndfile.h>
#include <soxr.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <sstream>
#include <fstream>
#include <mutex>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>

#include "host/errors.hpp"
#include "host/files.hpp"
#include "kernels/cpu/simd.hpp"
#include "kernels/dsp/dither.hpp"

namespace lq {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kBlockFrames = 1 << 16;  // frames per libsndfile call

std::string errno_text(int e) { return std::strerror(e); }

struct SndCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndFile = std::unique_ptr<SNDFILE, SndCloser>;

// sf_open_fd, with libsndfile's error text for a failed open: that text lives in one global
// (sf_strerror(NULL)) which another thread's open can overwrite, so opens are serialised and the
// text is read under the same lock. `fail` receives it and must throw.
// libsndfile gets its own duplicate of `fd` and closes it: since 1.0.30 a failed sf_open_fd closes
// the descriptor it was given even with close_desc false (libsndfile issues #948/#949), so handing
// it ours made our later close a second one, which in a batch closed whatever another song's thread
// had opened under that number meanwhile (a valid stem then read as truncated).
template <class Fail>
SndFile open_sndfile(int fd, int mode, SF_INFO* info, Fail&& fail) {
  static std::mutex open_mutex;
  std::string why;
  SNDFILE* f = nullptr;
  {
    std::lock_guard lock(open_mutex);
    const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
      why = "dup: " + errno_text(errno);
    } else {
      f = sf_open_fd(own, mode, info, SF_TRUE);
      if (!f) why = sf_strerror(nullptr);
    }
  }
  if (!f) fail(why);
  return SndFile(f);
}

// ---- container facts libsndfile does not report -------------------------------------------

struct ContainerFacts {
  bool found_data = false;
  int bits_per_sample = 0;      // as stored in the header (WAV wBitsPerSample, AIFF sampleSize)
  uint64_t data_declared = 0;   // bytes the data chunk claims
  uint64_t data_present = 0;    // bytes the file holds after the chunk's start
};

bool read_at(int fd, void* buf, size_t n, uint64_t offset) {
  auto* p = static_cast<unsigned char*>(buf);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t be(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// RIFF/RF64 WAVE (Microsoft RIFF spec; EBU Tech 3306 for RF64's ds64) or FORM AIFF/AIFC
// (Apple AIFF 1.3): walks the chunks up to the sound data.
ContainerFacts inspect_container(int fd, uint64_t file_size) {
  ContainerFacts f;
  unsigned char h[12];
  if (file_size < 12 || !read_at(fd, h, 12, 0)) return f;
  const bool riff = !std::memcmp(h, "RIFF", 4) || !std::memcmp(h, "RF64", 4);
  const bool aiff = !std::memcmp(h, "FORM", 4) && (!std::memcmp(h + 8, "AIFF", 4) || !std::memcmp(h + 8, "AIFC", 4));
  if (!riff && !aiff) return f;
  uint64_t ds64_data = 0, aiff_frames = 0;
  int aiff_channels = 0;
  for (uint64_t pos = 12; pos + 8 <= file_size;) {
    unsigned char c[36];
    if (!read_at(fd, c, 8, pos)) break;
    const uint64_t size = riff ? le(c + 4, 4) : be(c + 4, 4);
    const uint64_t body = pos + 8;
    const uint64_t avail = std::min<uint64_t>(sizeof c, file_size - body);
    if (riff && !std::memcmp(c, "ds64", 4) && avail >= 16 && read_at(fd, c, 16, body)) {
      ds64_data = le(c + 8, 8);
    } else if (riff && !std::memcmp(c, "fmt ", 4) && avail >= 16 && read_at(fd, c, 16, body)) {
      f.bits_per_sample = static_cast<int>(le(c + 14, 2));
    } else if (aiff && !std::memcmp(c, "COMM", 4) && avail >= 8 && read_at(fd, c, 8, body)) {
      aiff_channels = static_cast<int>(be(c, 2));
      aiff_frames = be(c + 2, 4);
      f.bits_per_sample = static_cast<int>(be(c + 6, 2));
    } else if (riff && !std::memcmp(c, "data", 4)) {
      f.found_data = true;
      f.data_declared = (size == 0xFFFFFFFFu && ds64_data) ? ds64_data : size;
      f.data_present = file_size - body;
      break;
    } else if (aiff && !std::memcmp(c, "SSND", 4) && avail >= 8 && read_at(fd, c, 8, body)) {
      f.found_data = true;
      const uint64_t start = body + 8 + be(c, 4);
      f.data_declared = aiff_frames * static_cast<uint64_t>(aiff_channels) *
                        static_cast<uint64_t>((f.bits_per_sample + 7) / 8);
      f.data_present = file_size > start ? file_size - start : 0;
      break;
    }
    pos = body + size + (size & 1);
  }
  return f;
}

// The allow-list (docs/verification.md "Bad input" case 11). Returns a description, or "" when refused.
std::string describe_format(int format, const ContainerFacts& facts) {
  const int major = format & SF_FORMAT_TYPEMASK;
  const int sub = format & SF_FORMAT_SUBMASK;
  std::string container;
  switch (major) {
    case SF_FORMAT_WAV: case SF_FORMAT_WAVEX: container = "WAV"; break;
    case SF_FORMAT_RF64: container = "RF64"; break;
    case SF_FORMAT_AIFF: container = "AIFF"; break;
    case SF_FORMAT_FLAC: container = "FLAC"; break;
    case SF_FORMAT_OGG: return sub == SF_FORMAT_VORBIS ? "OGG Vorbis" : "";
    default: return "";
  }
  int bits = 0;
  bool is_float = false;
  switch (sub) {
    case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: bits = 8; break;
    case SF_FORMAT_PCM_16: bits = 16; break;
    case SF_FORMAT_PCM_24: bits = 24; break;
    case SF_FORMAT_PCM_32: bits = 32; break;
    case SF_FORMAT_FLOAT: bits = 32; is_float = true; break;
    case SF_FORMAT_DOUBLE: bits = 64; is_float = true; break;
    default: return "";
  }
  if (major == SF_FORMAT_FLAC) return bits <= 24 && !is_float ? "FLAC " + std::to_string(bits) + "-bit" : "";
  // libsndfile rounds odd sample sizes (7, 12, 20 bits) up to whole bytes; the header says.
  if (facts.bits_per_sample != 0 && facts.bits_per_sample != bits) return "";
  return container + (is_float ? " float " : " PCM ") + std::to_string(bits) + "-bit";
}

std::string format_problem(int format, const ContainerFacts& facts) {
  std::string s = "unsupported audio encoding";
  if (facts.bits_per_sample % 8 != 0) s += " (" + std::to_string(facts.bits_per_sample) + "-bit PCM)";
  return s + ": supported are PCM 8/16/24/32-bit and float 32/64-bit in WAV, RF64 or AIFF; "
             "FLAC 8/16/24-bit; OGG Vorbis";
}

}  // namespace

struct AudioReader::Impl {
  fs::path path;
  std::unique_ptr<Fd> fd;
  SndFile snd;
  AudioFileInfo info;
  int64_t declared = 0, frames = 0, bad = 0, first_bad = -1;
  uint32_t peak_bits = 0;
  // Integer PCM is read as libsndfile's full-scale 32-bit integers and scaled here (see read()).
  bool integer_pcm = false;
  // Little-endian 16- or 24-bit PCM in a WAV-family container: the data chunk's bytes are read as
  // they are (sf_read_raw, libsndfile still parsing the container and bounding the data) and
  // converted here; 0 otherwise (see read()).
  int raw_bytes = 0;
  std::vector<float> block;
  std::vector<int32_t> int_block;
  std::vector<unsigned char> raw_block;
};

namespace {

// Integer PCM subtypes: for these sf_readf_int returns each sample as a full-scale 32-bit integer
// (the code shifted to the top bits), and sf_readf_float returns float(that integer) * 2^-31 (its
// normalised float; the product is exact, and float(integer) is exact up to 24 bits, one rounding
// for 32-bit codes either way). So converting here gives the same floats, in a loop that
// vectorises beside the deinterleaving: libsndfile's float conversion was 1/3 of the decoding's
// time (tests/host/audio_io_test.cpp checks the bits against sf_readf_float).
bool is_integer_pcm(int format) {
  const int sub = format & SF_FORMAT_SUBMASK;
  return sub == SF_FORMAT_PCM_S8 || sub == SF_FORMAT_PCM_U8 || sub == SF_FORMAT_PCM_16 || sub == SF_FORMAT_PCM_24 ||
         sub == SF_FORMAT_PCM_32;
}

constexpr float kIntToFloat = 1.0f / 2147483648.0f;  // 2^-31, exact

// The bytes per sample when `snd` can be read raw: 16- or 24-bit PCM, stored in that many bytes
// (the header's own bit depth), little-endian on a little-endian host (libsndfile's
// SFC_RAW_DATA_NEEDS_ENDSWAP), in an uncompressed WAV-family container. Each sample is then the
// full-scale integer libsndfile's own conversion makes (the code in the top bits: the same
// floats after * 2^-31), at half the decoding's time: its conversion loop was half of it.
int raw_pcm_bytes(SNDFILE* snd, int format, const ContainerFacts& facts) {
  if constexpr (std::endian::native != std::endian::little) return 0;
  const int type = format & SF_FORMAT_TYPEMASK, sub = format & SF_FORMAT_SUBMASK;
  if (type != SF_FORMAT_WAV && type != SF_FORMAT_WAVEX && type != SF_FORMAT_W64 && type != SF_FORMAT_RF64) return 0;
  const int bytes = sub == SF_FORMAT_PCM_16 ? 2 : sub == SF_FORMAT_PCM_24 ? 3 : 0;
  if (bytes == 0 || facts.bits_per_sample != 8 * bytes) return 0;
  if (sf_command(snd, SFC_RAW_DATA_NEEDS_ENDSWAP, nullptr, 0) != SF_FALSE) return 0;
  return bytes;
}

// Sample k of a raw little-endian block as libsndfile's full-scale integer.
template <int Bytes>
int32_t raw_sample(const unsigned char* p, int64_t k) {
  const unsigned char* b = p + k * Bytes;
  if constexpr (Bytes == 2) {
    return static_cast<int32_t>((uint32_t{b[0]} << 16) | (uint32_t{b[1]} << 24));
  } else {
    return static_cast<int32_t>((uint32_t{b[0]} << 8) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 24));
  }
}

#if defined(__x86_64__)
// Frames [0, returned) of a raw little-endian stereo block of n frames deinterleaved into l and r
// as raw_sample's floats, 4 frames per step in AVX2 registers; `peak` raised to their largest
// magnitude (integer PCM is always finite). 0 where the CPU has no AVX2; the caller converts the
// rest. The same floats as the scalar loop: the integer's conversion is exact (24 significant
// bits) and so is the scaling by 2^-31.
template <int Bytes>
__attribute__((target("avx2"))) int64_t deinterleave_raw_stereo_avx2(const unsigned char* raw, int64_t n, float* l,
                                                                      float* r, float& peak) {
  const __m256 scale = _mm256_set1_ps(kIntToFloat);
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 top = _mm256_setzero_ps();
  int64_t i = 0;
  if constexpr (Bytes == 3) {
    // Each 128-bit lane holds 2 frames (12 bytes): to L0 L1 R0 R1 as codes in the top 3 bytes.
    const __m256i to_codes = _mm256_setr_epi8(-1, 0, 1, 2, -1, 6, 7, 8, -1, 3, 4, 5, -1, 9, 10, 11,  //
                                              -1, 0, 1, 2, -1, 6, 7, 8, -1, 3, 4, 5, -1, 9, 10, 11);
    // The second lane's load reads 4 bytes past the 4 frames: stop while a frame follows them.
    for (; i + 5 <= n; i += 4) {
      const unsigned char* p = raw + i * 6;
      const __m256i bytes = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p + 12),
                                                reinterpret_cast<const __m128i*>(p));
      // [L0 L1 R0 R1 | L2 L3 R2 R3] -> [L0 L1 L2 L3 | R0 R1 R2 R3]
      const __m256i codes = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(bytes, to_codes), 0xD8);
      const __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(codes), scale);
      top = _mm256_max_ps(top, _mm256_and_ps(x, magnitude));
      _mm_storeu_ps(l + i, _mm256_castps256_ps128(x));
      _mm_storeu_ps(r + i, _mm256_extractf128_ps(x, 1));
    }
  } else {
    const __m256i lefts_first = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    for (; i + 4 <= n; i += 4) {
      const __m128i samples = _mm_loadu_si128(reinterpret_cast<const __m128i*>(raw + i * 4));
      const __m256i codes = _mm256_slli_epi32(_mm256_cvtepi16_epi32(samples), 16);
      const __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_permutevar8x32_epi32(codes, lefts_first)), scale);
      top = _mm256_max_ps(top, _mm256_and_ps(x, magnitude));
      _mm_storeu_ps(l + i, _mm256_castps256_ps128(x));
      _mm_storeu_ps(r + i, _mm256_extractf128_ps(x, 1));
    }
  }
  alignas(32) float tops[8];
  _mm256_store_ps(tops, top);
  for (const float t : tops) peak = std::max(peak, t);
  return i;
}
#endif

template <int Bytes>
int64_t deinterleave_raw_stereo(const unsigned char* raw, int64_t n, float* l, float* r, float& peak) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return deinterleave_raw_stereo_avx2<Bytes>(raw, n, l, r, peak);
#endif
  (void)raw, (void)n, (void)l, (void)r, (void)peak;
  return 0;
}

}  // namespace

AudioReader::AudioReader(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  r.path = path;
  r.fd = std::make_unique<Fd>(open_input(path));  // a regular file, opened without blocking
  const int fd = r.fd->get();
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw UserError(path, errno_text(errno));
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size == 0) throw UserError(path, "empty file (0 bytes), not an audio file");

  SF_INFO sfi{};
  r.snd = open_sndfile(fd, SFM_READ, &sfi, [&](const std::string& why) {
    throw UserError(path, "not a readable audio file (libsndfile: " + why + ")");
  });

  const ContainerFacts facts = inspect_container(fd, file_size);
  const std::string format = describe_format(sfi.format, facts);
  if (format.empty()) throw UserError(path, format_problem(sfi.format, facts));
  if (sfi.channels < 1 || sfi.channels > kMaxInputChannels) {
    throw UserError(path, std::to_string(sfi.channels) + " channels: only mono and stereo are supported");
  }
  if (sfi.samplerate < kMinSampleRate || sfi.samplerate > kMaxSampleRate) {
    throw UserError(path, "sample rate " + std::to_string(sfi.samplerate) + " Hz is outside [8000, 768000] Hz");
  }
  const int ch = sfi.channels;
  const bool uncompressed = (sfi.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_FLAC &&
                            (sfi.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_OGG;
  if (uncompressed && facts.found_data && facts.data_declared > facts.data_present) {
    const uint64_t frame_bytes = static_cast<uint64_t>(ch) * static_cast<uint64_t>((facts.bits_per_sample + 7) / 8);
    const uint64_t fb = std::max<uint64_t>(frame_bytes, 1);
    throw UserError(path, "truncated: declared " + std::to_string(facts.data_declared / fb) + " frames, found " +
                              std::to_string(facts.data_present / fb) + " (data chunk claims " +
                              std::to_string(facts.data_declared) + " bytes, " +
                              std::to_string(facts.data_present) + " present)");
  }
  if (!uncompressed && sfi.frames == SF_COUNT_MAX) {
    // A FLAC or Ogg file written to a pipe has no total length in its header: count the frames by
    // decoding once (the file's own size bounds the work), then read from the start.
    std::vector<float> scratch(static_cast<size_t>(kBlockFrames * ch));
    int64_t counted = 0;
    for (sf_count_t n; (n = sf_readf_float(r.snd.get(), scratch.data(), kBlockFrames)) > 0;) counted += n;
    if (sf_error(r.snd.get()) != SF_ERR_NO_ERROR) {
      throw UserError(path, std::string("corrupt (libsndfile: ") + sf_strerror(r.snd.get()) + ")");
    }
    if (sf_seek(r.snd.get(), 0, SEEK_SET) != 0) throw UserError(path, "cannot seek back to the start after counting frames");
    sfi.frames = counted;
  }
  if (sfi.frames <= 0) throw UserError(path, "no audio (0 frames)");
  r.declared = sfi.frames;
  r.info.path = path;
  r.info.format = format;
  r.info.sample_rate = sfi.samplerate;
  r.info.channels = ch;
  r.info.frames = sfi.frames;
  // A corrupt FLAC header may claim far more than exists: callers reserve what the file size allows.
  r.info.plausible_frames = std::min<int64_t>(sfi.frames, (int64_t{1} << 22) + static_cast<int64_t>(file_size));
  r.integer_pcm = is_integer_pcm(sfi.format);
  r.raw_bytes = raw_pcm_bytes(r.snd.get(), sfi.format, facts);
  if (r.raw_bytes) {
    r.raw_block.resize(static_cast<size_t>(kBlockFrames * ch * r.raw_bytes));
  } else if (r.integer_pcm) {
    r.int_block.resize(static_cast<size_t>(kBlockFrames * ch));
  } else {
    r.block.resize(static_cast<size_t>(kBlockFrames * ch));
  }
}

AudioReader::~AudioReader() = default;

const AudioFileInfo& AudioReader::info() const { return impl_->info; }

int64_t AudioReader::read(AudioBuffer& out, int64_t at, int64_t max_frames) {
  Impl& r = *impl_;
  const int ch = r.info.channels;
  int64_t done = 0;
  // The peak and the NaN/Inf check on the magnitudes' bit patterns: for non-negative floats their
  // order as integers is their order as numbers, and Inf and NaN are the patterns >= 0x7f800000.
  // Integer loops without branches, which the compiler vectorises.
  while (done < max_frames) {
    const sf_count_t want = std::min(kBlockFrames, max_frames - done);
    const sf_count_t frame_bytes = ch * r.raw_bytes;
    const sf_count_t n = r.raw_bytes     ? sf_read_raw(r.snd.get(), r.raw_block.data(), want * frame_bytes) / frame_bytes
                         : r.integer_pcm ? sf_readf_int(r.snd.get(), r.int_block.data(), want)
                                         : sf_readf_float(r.snd.get(), r.block.data(), want);
    if (n <= 0) break;
    for (int c = 0; c < ch; ++c) {
      auto& dst = out.channels[static_cast<size_t>(c)];
      if (static_cast<int64_t>(dst.size()) < at + done + n) dst.resize(static_cast<size_t>(at + done + n));
    }
    // One pass over the block per pair of channels: deinterleave, peak and count of non-finite.
    for (int c0 = 0; c0 < ch; c0 += 2) {
      const bool pair = c0 + 1 < ch;
      float* d0 = out.channels[static_cast<size_t>(c0)].data() + at + done;
      float* d1 = pair ? out.channels[static_cast<size_t>(c0 + 1)].data() + at + done : nullptr;
      uint32_t block_peak = 0;
      int64_t block_bad = 0;
      auto scan = [&](float x) {
        uint32_t u;
        std::memcpy(&u, &x, sizeof u);
        u &= 0x7fffffffu;
        const bool finite = u < 0x7f800000u;
        block_bad += finite ? 0 : 1;
        block_peak = std::max(block_peak, finite ? u : 0u);
      };
      // sample(k): interleaved sample k of the block as a float; frames from `from` on.
      auto deinterleave = [&](auto sample, sf_count_t from = 0) {
        if (pair) {
          for (sf_count_t i = from; i < n; ++i) {
            const float x0 = sample(i * ch + c0), x1 = sample(i * ch + c0 + 1);
            d0[i] = x0;
            d1[i] = x1;
            scan(x0);
            scan(x1);
          }
        } else {
          for (sf_count_t i = 0; i < n; ++i) {
            d0[i] = sample(i * ch + c0);
            scan(d0[i]);
          }
        }
      };
      const unsigned char* raw = r.raw_block.data();
      const int32_t* ints = r.int_block.data();
      const float* floats = r.block.data();
      // Stereo raw blocks (the usual stem) mostly in SIMD registers, the rest as below.
      sf_count_t from = 0;
      if (r.raw_bytes != 0 && ch == 2) {
        float peak = 0.0f;
        from = r.raw_bytes == 2 ? deinterleave_raw_stereo<2>(raw, n, d0, d1, peak)
                                : deinterleave_raw_stereo<3>(raw, n, d0, d1, peak);
        uint32_t u;
        std::memcpy(&u, &peak, sizeof u);
        block_peak = u;
      }
      if (r.raw_bytes == 2) {
        deinterleave([raw](int64_t k) { return static_cast<float>(raw_sample<2>(raw, k)) * kIntToFloat; }, from);
      } else if (r.raw_bytes == 3) {
        deinterleave([raw](int64_t k) { return static_cast<float>(raw_sample<3>(raw, k)) * kIntToFloat; }, from);
      } else if (r.integer_pcm) {
        deinterleave([ints](int64_t k) { return static_cast<float>(ints[k]) * kIntToFloat; });
      } else {
        deinterleave([floats](int64_t k) { return floats[k]; });
      }
      r.peak_bits = std::max(r.peak_bits, block_peak);
      if (block_bad > 0) {
        for (sf_count_t i = 0; i < n * (pair ? 2 : 1); ++i) {
          const float x = pair ? (i % 2 ? d1[i / 2] : d0[i / 2]) : d0[i];
          const int64_t frame = pair ? i / 2 : i;
          if (!std::isfinite(x)) {
            if (r.bad == 0 || r.frames + frame < r.first_bad) r.first_bad = r.frames + frame;
            break;
          }
        }
        r.bad += block_bad;
      }
    }
    r.frames += n;
    done += n;
  }
  return done;
}

void AudioReader::finish() {
  Impl& r = *impl_;
  const int err = sf_error(r.snd.get());
  if (err != SF_ERR_NO_ERROR || r.frames != r.declared) {
    std::string why = "truncated or corrupt: declared " + std::to_string(r.declared) + " frames, found " +
                      std::to_string(r.frames);
    if (err != SF_ERR_NO_ERROR) why += std::string(" (libsndfile: ") + sf_strerror(r.snd.get()) + ")";
    throw UserError(r.path, why);
  }
  if (r.bad > 0) {
    throw UserError(r.path, std::to_string(r.bad) + (r.bad == 1 ? " NaN/Inf sample" : " NaN/Inf samples") +
                                " (first at frame " + std::to_string(r.first_bad) + ")");
  }
  float peak;
  std::memcpy(&peak, &r.peak_bits, sizeof peak);
  r.info.peak_dbfs = peak > 0.0f ? 20.0 * std::log10(static_cast<double>(peak)) : -HUGE_VAL;
}

AudioBuffer read_audio(const fs::path& path, AudioFileInfo* info, double max_seconds, const char* what) {
  AudioReader reader(path);
  const double seconds = double(reader.info().frames) / reader.info().sample_rate;
  if (max_seconds > 0.0 && seconds > max_seconds) {  // from the header, before decoding
    throw UserError(path, std::string(what) + " is " + std::to_string(int(seconds)) + " s long (at most " +
                              std::to_string(int(max_seconds)) + " s)");
  }
  AudioBuffer out;
  out.sample_rate = reader.info().sample_rate;
  out.channels.resize(static_cast<size_t>(reader.info().channels));
  for (auto& c : out.channels) c.reserve(static_cast<size_t>(reader.info().plausible_frames));
  for (int64_t frames = 0;;) {
    const int64_t n = reader.read(out, frames, kBlockFrames);
    if (n == 0) break;
    frames += n;
  }
  reader.finish();
  if (info) *info = reader.info();
  return out;
}

AudioBuffer resample(const AudioBuffer& in, double to_rate) {
  if (!(to_rate >= kMinSampleRate && to_rate <= kMaxSampleRate)) {
    throw UserError("resample: target rate " + std::to_string(to_rate) + " Hz is outside [8000, 768000] Hz");
  }
  if (!(in.sample_rate >= kMinSampleRate && in.sample_rate <= kMaxSampleRate)) {
    throw std::invalid_argument("resample: input rate " + std::to_string(in.sample_rate) + " Hz is not set or out of range");
  }
  if (in.sample_rate == to_rate) return in;
  const int64_t frames = in.frames();
  const int ch = in.channel_count();
  const auto out_frames = static_cast<int64_t>(std::llround(static_cast<double>(frames) * to_rate / in.sample_rate));
  AudioBuffer out(ch, out_frames, to_rate);
  if (frames == 0 || ch == 0 || out_frames == 0) return out;
  std::vector<const float*> src;
  std::vector<float*> dst;
  for (int c = 0; c < ch; ++c) {
    src.push_back(in.channels[static_cast<size_t>(c)].data());
    dst.push_back(out.channels[static_cast<size_t>(c)].data());
  }
  // Planar float32 both ways; one thread so the result is a function of the input only.
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_S, SOXR_FLOAT32_S);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_VHQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  size_t in_done = 0, out_done = 0;
  const soxr_error_t e = soxr_oneshot(in.sample_rate, to_rate, static_cast<unsigned>(ch), src.data(),
                                      static_cast<size_t>(frames), &in_done, dst.data(),
                                      static_cast<size_t>(out_frames), &out_done, &io, &quality, &runtime);
  if (e) throw std::runtime_error(std::string("libsoxr: ") + e);
  // Fewer than out_frames only by rounding of the length: the rest stays zero.
  return out;
}

namespace {

// Integer bits of the output grid, 0 for float; refuses what the encoder cannot write.
int output_bits(const EncodeSpec& spec, const fs::path& out = "output") {
  if (spec.bit_depth == 16 || spec.bit_depth == 24) return spec.bit_depth;
  if (spec.format == OutputFormat::wav && spec.bit_depth == 32) return 0;
  throw UserError(out, std::string(spec.format == OutputFormat::flac ? "FLAC" : "WAV") + " output: " +
                           std::to_string(spec.bit_depth) + "-bit is not available (WAV: 16, 24, 32 float; FLAC: 16, 24)");
}

}  // namespace

namespace {

// x[i] = code_to_float(quantize_to_code(x[i], bits, the dither of frame first_frame + i)), written
// so that it vectorises: the channel's dither stream started once, the code kept in double (an
// integer there, so / 2^(bits-1) is the exact * 2^-(bits-1)) and quantize_to_code's NaN test as a
// select. The same bits (test: Dither.ParallelQuantisationEqualsTheSequentialDefinition).
LQ_CPU_CLONES void quantize_range(float* x, int64_t b, int64_t e, int64_t first_frame, int channel, int bits, bool dither,
                                  uint64_t seed) {
  const uint64_t stream = dsp::dither_stream(seed, channel);
  const double scale = static_cast<double>(int64_t{1} << (bits - 1));
  const double unscale = 1.0 / scale, lo = -scale, hi = scale - 1.0;
  for (int64_t i = b; i < e; ++i) {
    const double d = dither ? dsp::tpdf_from_bits(dsp::dither_bits_at(stream, first_frame + i)) : 0.0;
    double v = static_cast<double>(x[i]) * scale + d;
    v = v != v ? 0.0 : v;
    v = std::floor(v + 0.5);
    v = v > hi ? hi : v;
    v = v < lo ? lo : v;
    x[i] = static_cast<float>(v * unscale);
  }
}

}  // namespace

void quantize_in_place(AudioBuffer& audio, const EncodeSpec& spec, cpu::ThreadPool* pool, int64_t first_frame) {
  const int bits = output_bits(spec);
  if (bits == 0) return;
  // Each sample's value depends on (seed, channel, frame) only: any blocking, the same bits.
  auto run = [&](int64_t b, int64_t e) {
    for (int c = 0; c < audio.channel_count(); ++c) {
      quantize_range(audio.channels[static_cast<size_t>(c)].data(), b, e, first_frame, c, bits, spec.dither,
                     spec.dither_seed);
    }
  };
  if (pool != nullptr) {
    cpu::parallel_for_blocks(*pool, audio.frames(), int64_t{1} << 16, run);
  } else {
    run(0, audio.frames());
  }
}

namespace {

// dst[i * stride] = the code of src[i] at `bits`, left-justified in 32 bits, i in [0, n): libsndfile's
// int -> 16/24-bit conversion is a plain shift, so the file holds these codes.
LQ_CPU_CLONES void interleave_codes(const float* src, int64_t n, int bits, int stride, int* dst) {
  const int64_t shift_scale = int64_t{1} << (32 - bits);
  for (int64_t i = 0; i < n; ++i) {
    dst[i * stride] = static_cast<int>(int64_t{dsp::quantize_to_code(src[i], bits, 0.0)} * shift_scale);
  }
}

// The same codes as the little-endian bytes of a 16- or 24-bit sample (Bytes = bits / 8), every
// stride bytes: what libsndfile's int -> 16/24-bit conversion writes (the top bits, low byte first).
template <int Bytes>
LQ_CPU_CLONES void interleave_code_bytes(const float* src, int64_t n, int64_t stride, unsigned char* dst) {
  for (int64_t i = 0; i < n; ++i) {
    const auto code = static_cast<uint32_t>(dsp::quantize_to_code(src[i], 8 * Bytes, 0.0));
    unsigned char* b = dst + i * stride;
    b[0] = static_cast<unsigned char>(code);
    b[1] = static_cast<unsigned char>(code >> 8);
    if constexpr (Bytes == 3) b[2] = static_cast<unsigned char>(code >> 16);
  }
}

}  // namespace

struct AudioWriter::Impl {
  Impl(const fs::path& out, const EncodeSpec& spec, int channels, double rate)
      : bits(output_bits(spec, out)), ch(channels), tmp(std::make_unique<TempFile>(out)) {
    SF_INFO sfi{};
    sfi.samplerate = static_cast<int>(rate);
    sfi.channels = ch;
    sfi.format = (spec.format == OutputFormat::flac ? SF_FORMAT_FLAC : SF_FORMAT_WAV) |
                 (bits == 16 ? SF_FORMAT_PCM_16 : bits == 24 ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT);
    snd = open_sndfile(tmp->fd(), SFM_WRITE, &sfi, [&](const std::string& why) { tmp->fail("libsndfile: " + why); });
    samplerate = sfi.samplerate;
    // No PEAK chunk: libsndfile stamps it with the time of writing, so two renders of one session
    // would differ in those bytes (the report holds the peaks instead).
    sf_command(snd.get(), SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
    // 16/24-bit WAV on a little-endian host: the samples' bytes are made here and written raw
    // (sf_write_raw; libsndfile writes the header and counts the frames), the same bytes as its
    // own conversion writes, without a second pass over the block and with one write() per block.
    if constexpr (std::endian::native == std::endian::little) {
      if (spec.format == OutputFormat::wav && (bits == 16 || bits == 24) &&
          sf_command(snd.get(), SFC_RAW_DATA_NEEDS_ENDSWAP, nullptr, 0) == SF_FALSE) {
        raw_bytes = bits / 8;
      }
    }
    if (raw_bytes) {
      rblock.resize(static_cast<size_t>(kBlockFrames * ch * raw_bytes));
    } else if (bits) {
      iblock.resize(static_cast<size_t>(kBlockFrames * ch));
    } else {
      fblock.resize(static_cast<size_t>(kBlockFrames * ch));
    }
  }
  int bits, ch, samplerate = 0, raw_bytes = 0;
  int64_t frames = 0;
  std::unique_ptr<TempFile> tmp;
  SndFile snd;
  std::vector<float> fblock;
  std::vector<int> iblock;
  std::vector<unsigned char> rblock;
};

AudioWriter::AudioWriter(const fs::path& out, const EncodeSpec& spec, int channels, double rate) {
  if (channels < 1) throw UserError(out, "nothing to write (no channels)");
  if (!(rate >= kMinSampleRate && rate <= kMaxSampleRate) || rate != std::floor(rate)) {
    throw UserError(out, "cannot write at a sample rate of " + std::to_string(rate) + " Hz");
  }
  impl_ = std::make_unique<Impl>(out, spec, channels, rate);
}

AudioWriter::~AudioWriter() = default;

void AudioWriter::write(const AudioBuffer& audio, int64_t begin, int64_t end) {
  Impl& m = *impl_;
  if (audio.channel_count() != m.ch) m.tmp->fail("a span with " + std::to_string(audio.channel_count()) + " channels");
  // Integer formats go through sf_writef_int with the exact codes (interleave_codes).
  for (int64_t start = begin; start < end; start += kBlockFrames) {
    const int64_t n = std::min(kBlockFrames, end - start);
    for (int c = 0; c < m.ch; ++c) {
      const float* src = audio.channels[static_cast<size_t>(c)].data() + start;
      if (m.raw_bytes == 3) {
        interleave_code_bytes<3>(src, n, 3 * m.ch, m.rblock.data() + 3 * c);
      } else if (m.raw_bytes == 2) {
        interleave_code_bytes<2>(src, n, 2 * m.ch, m.rblock.data() + 2 * c);
      } else if (m.bits) {
        interleave_codes(src, n, m.bits, m.ch, m.iblock.data() + c);
      } else {
        for (int64_t i = 0; i < n; ++i) m.fblock[static_cast<size_t>(i * m.ch + c)] = src[i];
      }
    }
    const sf_count_t expected = m.raw_bytes ? n * m.ch * m.raw_bytes : n;  // bytes raw, else frames
    const sf_count_t wrote = m.raw_bytes ? sf_write_raw(m.snd.get(), m.rblock.data(), expected)
                             : m.bits    ? sf_writef_int(m.snd.get(), m.iblock.data(), n)
                                         : sf_writef_float(m.snd.get(), m.fblock.data(), n);
    if (wrote != expected) m.tmp->fail(std::string("libsndfile: ") + sf_strerror(m.snd.get()));
    m.frames += n;
  }
  m.tmp->start_writeback();
}

std::string AudioWriter::commit(Publication* pub) {
  Impl& m = *impl_;
  const int rc = sf_close(m.snd.release());
  if (rc != 0) m.tmp->fail(std::string("libsndfile: ") + sf_error_number(rc));
  // The header (sizes, FLAC STREAMINFO) is written at close: read it back.
  if (::lseek(m.tmp->fd(), 0, SEEK_SET) != 0) m.tmp->fail("lseek: " + errno_text(errno));
  {
    SF_INFO back{};
    bool opened = true;
    const SndFile check = open_sndfile(m.tmp->fd(), SFM_READ, &back, [&](const std::string&) { opened = false; });
    if (!opened || !check || back.frames != m.frames || back.channels != m.ch || back.samplerate != m.samplerate) {
      m.tmp->fail("the written file does not read back with " + std::to_string(m.frames) + " frames");
    }
  }
  std::string checksum;
  try {
    checksum = fd_xxh128(m.tmp->fd());
  } catch (const UserError& e) {
    m.tmp->fail(e.what());
  }
  Publication alone;
  Publication& p = pub ? *pub : alone;
  p.add(std::move(m.tmp));
  if (!pub) alone.publish();
  return checksum;
}

std::string write_audio_atomic(const fs::path& out, const AudioBuffer& audio, const EncodeSpec& spec, Publication* pub) {
  AudioWriter w(out, spec, audio.channel_count(), audio.sample_rate);
  w.write(audio, 0, audio.frames());
  return w.commit(pub);
}

bool probe_audio_header(const fs::path& path, int64_t* frames, int* sample_rate, int* channels) {
  Fd fd;
  try {
    fd = open_input(path);
  } catch (const UserError&) {
    return false;  // the caller's read_audio reports the problem
  }
  SF_INFO sfi{};
  bool ok = true;
  const SndFile snd = open_sndfile(fd.get(), SFM_READ, &sfi, [&](const std::string&) { ok = false; });
  if (!ok || !snd) return false;
  // A compressed file's header may claim more frames than the file holds: its last declared frame
  // must be reachable (a seek and a one-frame read; uncompressed data is checked against the file's
  // size when it is opened for reading).
  const int type = sfi.format & SF_FORMAT_TYPEMASK;
  if ((type == SF_FORMAT_FLAC || type == SF_FORMAT_OGG) && sfi.frames > 0) {
    std::vector<float> last(static_cast<size_t>(std::max(sfi.channels, 1)));
    if (sf_seek(snd.get(), sfi.frames - 1, SEEK_SET) != sfi.frames - 1 || sf_readf_float(snd.get(), last.data(), 1) != 1) {
      return false;
    }
  }
  *frames = sfi.frames;
  *sample_rate = sfi.samplerate;
  *channels = sfi.channels;
  return true;
}

}  // namespace lq
