#include "support/expect_close.hpp"

#include <sstream>

namespace lq::test {

template <class A, class B>
static ::testing::AssertionResult close_impl(std::span<const A> a, std::span<const B> b, Tolerance tol) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << a.size() << " vs " << b.size();
  }
  size_t bad = 0;
  double worst = 0.0;
  size_t worst_i = 0;
  std::ostringstream first;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = static_cast<double>(a[i]);
    const double y = static_cast<double>(b[i]);
    const double err = std::fabs(x - y);
    const bool ok = err <= tol.abs + tol.rel * std::fabs(y);
    if (!ok || std::isnan(x) != std::isnan(y)) {
      if (bad < 5) first << "  [" << i << "] " << x << " vs " << y << " (err " << err << ")\n";
      ++bad;
    }
    if (err > worst) { worst = err; worst_i = i; }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " outside abs " << tol.abs
                                       << " rel " << tol.rel << " (" << tol.why << "); worst " << worst
                                       << " at " << worst_i << "\n" << first.str();
}

::testing::AssertionResult all_close(std::span<const float> a, std::span<const double> b, Tolerance t) {
  return close_impl(a, b, t);
}
::testing::AssertionResult all_close(std::span<const float> a, std::span<const float> b, Tolerance t) {
  return close_impl(a, b, t);
}
::testing::AssertionResult all_close(std::span<const double> a, std::span<const double> b, Tolerance t) {
  return close_impl(a, b, t);
}

template <class T>
static ::testing::AssertionResult bits_impl(std::span<const T> a, std::span<const T> b) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << a.size() << " vs " << b.size();
  }
  size_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) {
      if (bad < 5) first << "  [" << i << "] " << a[i] << " vs " << b[i] << "\n";
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " differ in bits\n" << first.str();
}

::testing::AssertionResult bit_equal(std::span<const float> a, std::span<const float> b) { return bits_impl(a, b); }
::testing::AssertionResult bit_equal(std::span<const double> a, std::span<const double> b) { return bits_impl(a, b); }

double relative_rms_error(std::span<const float> a, std::span<const double> b) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace lq::test
