/* The codec module's interface (host/codec/libav_codec.cpp, loaded by host/codec.cpp): plain C,
 * so that lacquer and the module share nothing but this. */
#ifndef LQ_CODEC_API_H
#define LQ_CODEC_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LQ_CODEC_API_VERSION 1

/* Receives decoded audio: `n` frames of `channels` planar float rows. */
typedef void (*LqAppendFn)(void* ctx, int channels, int n, const float* const* rows);

typedef struct LqCodecApi {
  int version;
  /* The rate FFmpeg's `encoder` runs at for a master at `rate` (the master's when it takes it,
   * else 48000); -1 with a message in err. */
  int (*encoder_rate)(const char* encoder, int rate, char* err, size_t err_size);
  /* Encodes `frames` frames of `channels` planar float rows at `rate` (a rate encoder_rate gave)
   * with `encoder` at `kbps` kbit/s and decodes them again into `append`; 0, or -1 with a message. */
  int (*round_trip)(const char* encoder, int kbps, int channels, int64_t frames, int rate, const float* const* in,
                    void* out_ctx, LqAppendFn append, char* err, size_t err_size);
} LqCodecApi;

const LqCodecApi* lq_codec_api(void);

#ifdef __cplusplus
}
#endif

#endif
