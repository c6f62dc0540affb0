// The codec module (liblacquer-codec.so): the round trip through FFmpeg's libraries, loaded by
// lacquer only when a codec check is asked for (host/codec.hpp), so that the lacquer binary and the
// GPU kit do not depend on libavcodec and what it pulls in. Its interface is host/codec/codec_api.h.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "host/codec/codec_api.h"

namespace {

std::string av_error(int e) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(e, buf, sizeof buf);
  return buf;
}

struct Failure {
  std::string what;
};
[[noreturn]] void fail(const std::string& what, int e = 0) {
  throw Failure{what + (e != 0 ? ": " + av_error(e) : std::string())};
}

// Owners of FFmpeg's objects.
struct Context {
  AVCodecContext* c = nullptr;
  explicit Context(const AVCodec* codec) : c(avcodec_alloc_context3(codec)) {}
  ~Context() { avcodec_free_context(&c); }
};
struct Frame {
  AVFrame* f = av_frame_alloc();
  ~Frame() { av_frame_free(&f); }
};
struct Packet {
  AVPacket* p = av_packet_alloc();
  ~Packet() { av_packet_free(&p); }
};

// A file held in memory, written through a seekable AVIOContext (the MP4 muxer goes back to
// write its index).
class MemoryFile {
 public:
  MemoryFile() {
    auto* buffer = static_cast<unsigned char*>(av_malloc(kBuffer));
    if (!buffer) fail("out of memory");
    io_ = avio_alloc_context(buffer, kBuffer, 1, this, nullptr, &MemoryFile::write, &MemoryFile::seek);
    if (!io_) {
      av_free(buffer);
      fail("out of memory");
    }
  }
  ~MemoryFile() {
    if (io_) av_freep(&io_->buffer);
    avio_context_free(&io_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  AVIOContext* io() { return io_; }
  const std::vector<uint8_t>& bytes() const { return data_; }

 private:
  static constexpr int kBuffer = 1 << 16;
  static int write(void* self, uint8_t* buf, int n) {
    auto* m = static_cast<MemoryFile*>(self);
    const size_t end = size_t(m->pos_) + size_t(n);
    if (end > m->data_.size()) m->data_.resize(end);
    std::memcpy(m->data_.data() + m->pos_, buf, size_t(n));
    m->pos_ = int64_t(end);
    return n;
  }
  static int64_t seek(void* self, int64_t offset, int whence) {
    auto* m = static_cast<MemoryFile*>(self);
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return int64_t(m->data_.size());
    const int64_t base = whence == SEEK_CUR ? m->pos_ : whence == SEEK_END ? int64_t(m->data_.size()) : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
    if (base + offset < 0) return AVERROR(EINVAL);
    m->pos_ = base + offset;
    return m->pos_;
  }
  AVIOContext* io_ = nullptr;
  std::vector<uint8_t> data_;
  int64_t pos_ = 0;
};

// The encoder's packets muxed into `container`, in memory.
class Muxer {
 public:
  Muxer(const char* container, const AVCodecContext* enc) {
    if (int r = avformat_alloc_output_context2(&fc_, nullptr, container, nullptr); r < 0 || !fc_) {
      fail(std::string("FFmpeg's libavformat has no ") + container + " muxer", r);
    }
    fc_->pb = file_.io();
    fc_->flags |= AVFMT_FLAG_BITEXACT;  // no encoder version or creation time: the same bytes each run
    st_ = avformat_new_stream(fc_, nullptr);
    if (!st_) fail("out of memory");
    if (int r = avcodec_parameters_from_context(st_->codecpar, enc); r < 0) fail("cannot describe the stream", r);
    st_->time_base = enc->time_base;
    enc_tb_ = enc->time_base;
    if (int r = avformat_write_header(fc_, nullptr); r < 0) fail(std::string("cannot start the ") + container + " file", r);
  }
  ~Muxer() { avformat_free_context(fc_); }
  Muxer(const Muxer&) = delete;
  Muxer& operator=(const Muxer&) = delete;
  // A copy of the packet goes to the file (the caller's packet is left as it was).
  void add(const AVPacket* p) {
    Packet copy;
    if (int r = av_packet_ref(copy.p, p); r < 0) fail("out of memory", r);
    av_packet_rescale_ts(copy.p, enc_tb_, st_->time_base);
    copy.p->stream_index = st_->index;
    if (int r = av_write_frame(fc_, copy.p); r < 0) fail("cannot write the encoded file", r);
  }
  const std::vector<uint8_t>& finish() {
    if (int r = av_write_trailer(fc_); r < 0) fail("cannot finish the encoded file", r);
    avio_flush(fc_->pb);
    return file_.bytes();
  }

 private:
  MemoryFile file_;
  AVFormatContext* fc_ = nullptr;
  AVStream* st_ = nullptr;
  AVRational enc_tb_{1, 1};
};

// The encoder's rate for a master at `rate`: the master's where the encoder takes it, else 48 kHz.
int encoder_rate(const AVCodec* enc, int rate) {
  if (!enc->supported_samplerates) return rate;
  for (const int* r = enc->supported_samplerates; *r != 0; ++r) {
    if (*r == rate) return rate;
  }
  return 48000;
}

AVSampleFormat encoder_format(const AVCodec* enc) {
  if (!enc->sample_fmts) return AV_SAMPLE_FMT_FLTP;
  for (AVSampleFormat want : {AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_S32P, AV_SAMPLE_FMT_S32,
                              AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_S16}) {
    for (const AVSampleFormat* f = enc->sample_fmts; *f != AV_SAMPLE_FMT_NONE; ++f) {
      if (*f == want) return want;
    }
  }
  return enc->sample_fmts[0];
}

// Sample `i` of channel `c` of a frame in any of the formats above, as a float.
float sample_of(const AVFrame* f, int c, int i) {
  const int channels = f->ch_layout.nb_channels;
  switch (static_cast<AVSampleFormat>(f->format)) {
    case AV_SAMPLE_FMT_FLTP: return reinterpret_cast<const float*>(f->extended_data[c])[i];
    case AV_SAMPLE_FMT_FLT: return reinterpret_cast<const float*>(f->extended_data[0])[i * channels + c];
    case AV_SAMPLE_FMT_DBLP: return static_cast<float>(reinterpret_cast<const double*>(f->extended_data[c])[i]);
    case AV_SAMPLE_FMT_S32P: return static_cast<float>(reinterpret_cast<const int32_t*>(f->extended_data[c])[i] / 2147483648.0);
    case AV_SAMPLE_FMT_S32:
      return static_cast<float>(reinterpret_cast<const int32_t*>(f->extended_data[0])[i * channels + c] / 2147483648.0);
    case AV_SAMPLE_FMT_S16P: return reinterpret_cast<const int16_t*>(f->extended_data[c])[i] / 32768.0f;
    case AV_SAMPLE_FMT_S16: return reinterpret_cast<const int16_t*>(f->extended_data[0])[i * channels + c] / 32768.0f;
    default: fail("a decoder's sample format is not handled");
  }
}

void set_sample(AVFrame* f, int c, int i, float v) {
  const int channels = f->ch_layout.nb_channels;
  const double clipped = std::clamp(double(v), -1.0, 1.0);
  switch (static_cast<AVSampleFormat>(f->format)) {
    case AV_SAMPLE_FMT_FLTP: reinterpret_cast<float*>(f->extended_data[c])[i] = v; break;
    case AV_SAMPLE_FMT_FLT: reinterpret_cast<float*>(f->extended_data[0])[i * channels + c] = v; break;
    case AV_SAMPLE_FMT_S32P:
      reinterpret_cast<int32_t*>(f->extended_data[c])[i] = static_cast<int32_t>(std::lround(clipped * 2147483647.0));
      break;
    case AV_SAMPLE_FMT_S32:
      reinterpret_cast<int32_t*>(f->extended_data[0])[i * channels + c] = static_cast<int32_t>(std::lround(clipped * 2147483647.0));
      break;
    case AV_SAMPLE_FMT_S16P:
      reinterpret_cast<int16_t*>(f->extended_data[c])[i] = static_cast<int16_t>(std::lround(clipped * 32767.0));
      break;
    case AV_SAMPLE_FMT_S16:
      reinterpret_cast<int16_t*>(f->extended_data[0])[i * channels + c] = static_cast<int16_t>(std::lround(clipped * 32767.0));
      break;
    default: fail("an encoder's sample format is not handled");
  }
}


int copy_error(const std::string& what, char* err, size_t err_size) {
  if (err && err_size > 0) {
    std::strncpy(err, what.c_str(), err_size - 1);
    err[err_size - 1] = '\0';
  }
  return -1;
}

// FFmpeg's own messages (its warnings about timestamps the round trip does not use) stay quiet;
// errors come back through `err`.
void quiet() {
  static const bool once = (av_log_set_level(AV_LOG_QUIET), true);
  (void)once;
}

int lq_encoder_rate(const char* encoder, int rate, char* err, size_t err_size) {
  quiet();
  const AVCodec* enc = avcodec_find_encoder_by_name(encoder);
  if (!enc) return copy_error(std::string("FFmpeg's libavcodec has no ") + encoder + " encoder", err, err_size);
  return encoder_rate(enc, rate);
}

int lq_round_trip(const char* encoder, int kbps, int channels, int64_t frames, int rate, const float* const* in,
                  void* out_ctx, LqAppendFn append, const char* container, void* bytes_ctx, LqBytesFn bytes, char* err,
                  size_t err_size) {
  try {
    const AVCodec* enc = avcodec_find_encoder_by_name(encoder);
    if (!enc) fail(std::string("FFmpeg's libavcodec has no ") + encoder + " encoder");
  Context e(enc);
  if (!e.c) fail("cannot allocate the encoder");
  e.c->sample_rate = rate;
  e.c->sample_fmt = encoder_format(enc);
  e.c->bit_rate = int64_t(kbps) * 1000;
  e.c->time_base = AVRational{1, rate};
  e.c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // the decoder's configuration (AAC, Vorbis, Opus headers)
  av_channel_layout_default(&e.c->ch_layout, channels);
  if (int r = avcodec_open2(e.c, enc, nullptr); r < 0) fail("cannot open the encoder", r);

  const AVCodec* dec = avcodec_find_decoder(e.c->codec_id);
  if (!dec) fail("FFmpeg's libavcodec has no decoder for it");
  Context d(dec);
  d.c->sample_rate = rate;
  av_channel_layout_copy(&d.c->ch_layout, &e.c->ch_layout);
  if (e.c->extradata_size > 0) {
    d.c->extradata = static_cast<uint8_t*>(av_mallocz(size_t(e.c->extradata_size) + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!d.c->extradata) fail("out of memory");
    std::memcpy(d.c->extradata, e.c->extradata, size_t(e.c->extradata_size));
    d.c->extradata_size = e.c->extradata_size;
  }
  if (int r = avcodec_open2(d.c, dec, nullptr); r < 0) fail("cannot open the decoder", r);
  std::unique_ptr<Muxer> muxer;
  if (container && bytes) muxer = std::make_unique<Muxer>(container, e.c);

  Frame decoded;
  std::vector<float> planar;
  std::vector<const float*> rows(static_cast<size_t>(channels));
  auto take_frames = [&] {
    for (;;) {
      const int r = avcodec_receive_frame(d.c, decoded.f);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail("decoding failed", r);
      const int n = decoded.f->nb_samples, dc = decoded.f->ch_layout.nb_channels;
      planar.resize(size_t(n) * size_t(channels));
      for (int c = 0; c < channels; ++c) {
        for (int i = 0; i < n; ++i) planar[size_t(c) * size_t(n) + size_t(i)] = sample_of(decoded.f, std::min(c, dc - 1), i);
        rows[size_t(c)] = planar.data() + size_t(c) * size_t(n);
      }
      append(out_ctx, channels, n, rows.data());
      av_frame_unref(decoded.f);
    }
  };
  Packet pkt;
  auto take_packets = [&] {
    for (;;) {
      const int r = avcodec_receive_packet(e.c, pkt.p);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail("encoding failed", r);
      if (muxer) muxer->add(pkt.p);
      int s = avcodec_send_packet(d.c, pkt.p);
      while (s == AVERROR(EAGAIN)) {
        take_frames();
        s = avcodec_send_packet(d.c, pkt.p);
      }
      av_packet_unref(pkt.p);
      if (s < 0) fail("decoding failed", s);
      take_frames();
    }
  };
  const bool variable = (enc->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) != 0;
  const int frame_size = e.c->frame_size > 0 ? e.c->frame_size : 1024;
  Frame f;
  for (int64_t pos = 0; pos < frames; pos += frame_size) {
    const int n = static_cast<int>(std::min<int64_t>(frame_size, frames - pos));
    av_frame_unref(f.f);
    f.f->nb_samples = variable ? n : frame_size;  // a short last frame is padded with silence
    f.f->format = e.c->sample_fmt;
    f.f->sample_rate = rate;
    av_channel_layout_copy(&f.f->ch_layout, &e.c->ch_layout);
    if (int r = av_frame_get_buffer(f.f, 0); r < 0) fail("out of memory", r);
    for (int c = 0; c < channels; ++c) {
      const float* x = in[c] + pos;
      for (int i = 0; i < f.f->nb_samples; ++i) set_sample(f.f, c, i, i < n ? x[i] : 0.0f);
    }
    f.f->pts = pos;
    if (int r = avcodec_send_frame(e.c, f.f); r < 0) fail("encoding failed", r);
    take_packets();
  }
  if (int r = avcodec_send_frame(e.c, nullptr); r < 0) fail("encoding failed", r);
  take_packets();
  avcodec_send_packet(d.c, nullptr);
  take_frames();
  if (muxer) {
    const std::vector<uint8_t>& file = muxer->finish();
    bytes(bytes_ctx, file.data(), file.size());
  }
  return 0;
  } catch (const Failure& f) {
    return copy_error(f.what, err, err_size);
  }
}


const LqCodecApi kApi = {LQ_CODEC_API_VERSION, lq_encoder_rate, lq_round_trip};

}  // namespace

extern "C" __attribute__((visibility("default"))) const LqCodecApi* lq_codec_api() { return &kApi; }
