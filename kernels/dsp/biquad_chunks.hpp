// Chunked evaluation of a biquad (a linear order-2 recurrence) in three phases, for the GPU's
// K-weighting (docs/algorithms.md "Linear recurrences"). Not bit-identical to the
// sequential loop (the carried state is a sum of rounded products): stage 2's slow poles amplify the
// state's rounding to about 1e-10 of full scale (tests/dsp/biquad_chunks_test.cpp), which moves a
// loudness reading by under 1e-8 LU against the parity rule's 0.01 LU.
//
// A direct-form-I biquad over a known input x is y = y_zs + y_h on every chunk [b, e): y_zs runs
// from zero state (the input history x[b-1], x[b-2] is read as it is), y_h is the homogeneous
// response y_h[i] = -a1 y_h[i-1] - a2 y_h[i-2] to the true state s_b = {y[b-1], y[b-2]}. Over a chunk
// of C samples, {y_h[e-1], y_h[e-2]} = M_C s_b with the 2x2 matrix M_C (the same for every full
// chunk). So:
//  1. every chunk runs from zero state in parallel and keeps its end state z_c;
//  2. the true start states follow in order: s_0 = the initial state, s_{c+1} = z_c + M_C s_c
//     (two multiply-adds per chunk);
//  3. every chunk re-runs from s_c in parallel, writing its outputs (or their squares summed per
//     segment, for the meter).
// The recurrence type is dsp::BiquadRecurrence (kernels/dsp/k_weighting.hpp): global indices, so a
// chunk reads its own input history.
#pragma once

#include "kernels/dsp/k_weighting.hpp"
#include "kernels/dsp/recurrence.hpp"

namespace lq::dsp {

// Chunk length of the K-weighting passes: the smallest multiple of the meter's segment that is at
// least 4096 frames (about 85 ms at 48 kHz: thousands of chunks per song for the GPU's threads, and
// each chunk's start state carries with one 2x2 product). A constant of the algorithm.
LQ_HD int64_t k_weighting_chunk_frames(int64_t segment_frames) {
  const int64_t per = (4096 + segment_frames - 1) / segment_frames;
  return per * segment_frames;
}

// The end state {y[end-1], y[end-2]} of the recurrence run over [begin, end) from `prev`
// ({y[begin-1], y[begin-2]}), without storing the outputs. end > begin.
template <class R>
LQ_HD void biquad_end_state(const R& rec, int64_t begin, int64_t end, const double* prev, double* out) {
  double s0 = prev[0], s1 = prev[1];
  for (int64_t i = begin; i < end; ++i) {
    const double s[2] = {s0, s1};
    const double v = rec.step(s, i);
    s1 = s0;
    s0 = v;
  }
  out[0] = s0;
  out[1] = s1;
}

// M_len, row-major: {y_h[len-1], y_h[len-2]} = M {y_h[-1], y_h[-2]} for y_h[i] = -a1 y_h[i-1] - a2 y_h[i-2],
// by running the homogeneous recurrence from the two unit states (no snapping). len >= 1.
LQ_HD void biquad_homogeneous_matrix(const BiquadCoefficients& c, int64_t len, double* m) {
  for (int col = 0; col < 2; ++col) {
    double y1 = col == 0 ? 1.0 : 0.0, y2 = col == 0 ? 0.0 : 1.0;
    for (int64_t i = 0; i < len; ++i) {
      const double v = -c.a2 * y2 - c.a1 * y1;
      y2 = y1;
      y1 = v;
    }
    m[0 * 2 + col] = y1;
    m[1 * 2 + col] = y2;
  }
}

// Phase 2: start[2c..2c+1] = s_c from s_0 = init, s_{c+1} = zs_end_c + M s_c, for c < chunks
// (every chunk but the last is full). Sequential, in chunk order.
LQ_HD void biquad_carry(const double* m, const double* zs_end, int64_t chunks, const double* init,
                        double* start) {
  double s0 = init[0], s1 = init[1];
  for (int64_t c = 0; c < chunks; ++c) {
    start[2 * c] = s0;
    start[2 * c + 1] = s1;
    const double n0 = zs_end[2 * c] + (m[0] * s0 + m[1] * s1);
    const double n1 = zs_end[2 * c + 1] + (m[2] * s0 + m[3] * s1);
    s0 = n0;
    s1 = n1;
  }
}

// Phase 3 for the meter: runs [begin, end) from `prev` and adds y^2 to energies[i / segment] in
// index order for i < limit (limit: the end of the last whole segment). begin must be a multiple
// of `segment` and every segment must lie inside one chunk (chunk length a multiple of segment),
// so each energy is summed by one chunk, from 0, in index order, as the sequential meter does.
template <class R>
LQ_HD void biquad_segment_energies(const R& rec, int64_t begin, int64_t end, const double* prev,
                                   int64_t segment, int64_t limit, double* energies) {
  double s0 = prev[0], s1 = prev[1];
  double acc = 0.0;
  for (int64_t i = begin; i < end && i < limit; ++i) {
    const double s[2] = {s0, s1};
    const double v = rec.step(s, i);
    s1 = s0;
    s0 = v;
    acc += v * v;
    if ((i + 1) % segment == 0) {
      energies[i / segment] = acc;
      acc = 0.0;
    }
  }
}

}  // namespace lq::dsp
