// Planar float32 audio (the CPU backend's and the host's buffer type): one contiguous array per channel, at one sample rate.
#pragma once

#include <cstdint>
#include <vector>

namespace lq::cpu {

struct AudioBuffer {
  double sample_rate = 0.0;
  std::vector<std::vector<float>> channels;  // channels[c][frame]

  AudioBuffer() = default;
  // Each channel zeroed in place (not copied from a zeroed prototype: that would be one more
  // channel-long buffer and a copy of it per channel).
  AudioBuffer(int channel_count, int64_t frames, double rate) : sample_rate(rate) {
    channels.reserve(static_cast<size_t>(channel_count));
    for (int c = 0; c < channel_count; ++c) channels.emplace_back(static_cast<size_t>(frames));
  }

  int channel_count() const { return static_cast<int>(channels.size()); }
  int64_t frames() const { return channels.empty() ? 0 : static_cast<int64_t>(channels[0].size()); }
  void resize_frames(int64_t frames) {
    for (auto& c : channels) c.resize(static_cast<size_t>(frames), 0.0f);
  }
};

}  // namespace lq::cpu

namespace lq {
using cpu::AudioBuffer;
}
