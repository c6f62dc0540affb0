// libebur128 (an independent implementation of BS.1770-4) as the outside meter for end-to-end
// tests: integrated loudness of a decoded file, without histogram mode.
#pragma once

#include "support/test_files.hpp"

namespace lq::test {

double libebur128_integrated(const DecodedFile& f);

}  // namespace lq::test
