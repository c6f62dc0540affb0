// The peak of the ideal band-limited reconstruction of a finite signal, in float64, independent of
// Lacquer's interpolators: x(t) = sum_k x[k] sinc(t - k) over every sample (zeros outside),
// evaluated as sin(pi t) / pi * sum_k x[k] (-1)^k / (t - k). A 4x scan of the whole signal and its
// tails, then every local maximum of that scan within 0.8 dB of the largest searched at 1/128 of a
// sample over +-1/4 of a sample around it, with a parabola through the best three.
#pragma once

#include <vector>

namespace lq::test {

// x(t) of one channel.
double reconstruction_at(const std::vector<float>& x, double t);

// max |x(t)| over t in [t0, t1] (default: the whole signal with 64 samples of tail each side).
double reconstruction_peak(const std::vector<float>& x, double t0, double t1);
double reconstruction_peak(const std::vector<float>& x);

// x low-passed at `cutoff` (a fraction of fs) by a 1201-tap Kaiser-windowed sinc (beta 8: about
// -80 dB from cutoff + 0.005 fs), in double.
std::vector<double> low_pass(const std::vector<double>& x, double cutoff);

}  // namespace lq::test
