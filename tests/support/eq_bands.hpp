// An EQ band in one call, for the EQ tests.
#pragma once

#include "host/eq_design.hpp"

namespace lq::test {

inline EqBand eq_band(EqBandType t, double f, double gain_db = 0.0, double q = 0.7071067811865476, int slope = 12) {
  EqBand b;
  b.type = t;
  b.freq_hz = f;
  b.gain_db = gain_db;
  b.q = q;
  b.slope_db_per_oct = slope;
  return b;
}

}  // namespace lq::test
