// libebur128 (an independent implementation of BS.1770-4) as the outside meter for end-to-end
// tests: integrated loudness of a decoded file, without histogram mode.
#pragma once

#include <vector>

#include "support/test_files.hpp"

namespace lq::test {

double libebur128_integrated(const DecodedFile& f);
// libebur128's loudness of several files gated together (ebur128_loudness_global_multiple: the
// album gain of ReplayGain 2 / rsgain).
double libebur128_album_integrated(const std::vector<DecodedFile>& files);
// libebur128's true peak (its own 4x or 2x interpolator), linear, the largest over channels.
double libebur128_true_peak(const DecodedFile& f);

}  // namespace lq::test

namespace lq::test {

// The true peak ffmpeg's `ebur128=peak=true` reads: the signal upsampled to 192 kHz by
// libswresample with its default settings (as ffmpeg's filter configures it), the largest |value|
// over channels, and the sample peak beside it. Linear. `edge`: output points within that many
// input samples of either end are not read (libswresample pads the start with the signal
// mirrored, not with zeros, so a signal that starts or stops at full level reads differently there
// than any zero-padded interpolator).
double libswresample_true_peak(const DecodedFile& f, int edge = 0);

}  // namespace lq::test
