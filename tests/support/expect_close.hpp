// One comparison helper for the whole suite (docs/verification.md "Tolerances"): a tolerance names
// its reason, and a failure prints the first mismatches and the worst error.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace lq::test {

struct Tolerance {
  double abs = 0.0;
  double rel = 0.0;
  const char* why = "";
};

// Element-wise |a - b| <= abs + rel * |b| (b is the reference).
::testing::AssertionResult all_close(std::span<const float> actual, std::span<const double> expected,
                                     Tolerance tol);
::testing::AssertionResult all_close(std::span<const float> actual, std::span<const float> expected,
                                     Tolerance tol);
::testing::AssertionResult all_close(std::span<const double> actual, std::span<const double> expected,
                                     Tolerance tol);
// Bit-for-bit equality (bit-exact promises are compared as bits).
::testing::AssertionResult bit_equal(std::span<const float> a, std::span<const float> b);
::testing::AssertionResult bit_equal(std::span<const double> a, std::span<const double> b);

// Relative RMS error ||a - b|| / ||b||.
double relative_rms_error(std::span<const float> actual, std::span<const double> expected);

}  // namespace lq::test
