/* The codec module's interface (host/codec/libav_codec.cpp, loaded by host/codec.cpp): plain C,
 * so that lacquer and the module share nothing but this. */
#ifndef LQ_CODEC_API_H
#define LQ_CODEC_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LQ_CODEC_API_VERSION 2

/* Receives decoded audio: `n` frames of `channels` planar float rows. */
typedef void (*LqAppendFn)(void* ctx, int channels, int n, const float* const* rows);
/* Receives the encoded file: `n` bytes of its container, whole. */
typedef void (*LqBytesFn)(void* ctx, const uint8_t* data, size_t n);

typedef struct LqCodecApi {
  int version;
  /* The rate FFmpeg's `encoder` runs at for a master at `rate` (the master's when it takes it,
   * else 48000); -1 with a message in err. */
  int (*encoder_rate)(const char* encoder, int rate, char* err, size_t err_size);
  /* Encodes `frames` frames of `channels` planar float rows at `rate` (a rate encoder_rate gave)
   * with `encoder` at `kbps` kbit/s and decodes them again into `append`; 0, or -1 with a message.
   * With `container` (an FFmpeg muxer: "ipod", "mp3", "opus", "ogg") the same packets are also
   * muxed into a file held in memory and given whole to `bytes` at the end. */
  int (*round_trip)(const char* encoder, int kbps, int channels, int64_t frames, int rate, const float* const* in,
                    void* out_ctx, LqAppendFn append, const char* container, void* bytes_ctx, LqBytesFn bytes,
                    char* err, size_t err_size);
} LqCodecApi;

const LqCodecApi* lq_codec_api(void);

#ifdef __cplusplus
}
#endif

#endif
