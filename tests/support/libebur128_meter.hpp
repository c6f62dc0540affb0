// libebur128 (an independent implementation of BS.1770-4) as the outside meter for end-to-end
// tests: integrated loudness of a decoded file, without histogram mode.
#pragma once

#include "support/test_files.hpp"

namespace lq::test {

double libebur128_integrated(const DecodedFile& f);
// libebur128's true peak (its own 4x or 2x interpolator), linear, the largest over channels.
double libebur128_true_peak(const DecodedFile& f);

}  // namespace lq::test
