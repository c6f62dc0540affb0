// Stereo stems that break 4x true-peak detection, driven about 6 dB over full scale so the limiter
// works hard: the inputs of the true-peak ceiling tests.
#pragma once

#include <random>
#include <vector>

namespace lq::test {

// `n` frames of kind 0: noise flat to Nyquist; 1: noise above 0.4 fs (alternate signs on low-passed
// noise); 2: hard-clipped drum bursts; 3: a square wave; 4: two near-Nyquist sines beating slowly.
std::vector<std::vector<float>> hot_stem(int kind, std::mt19937& rng, int n);

}  // namespace lq::test
