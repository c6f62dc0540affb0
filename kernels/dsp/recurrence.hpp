// Chunked evaluation of order-k output recurrences, bit-identical to the sequential loop.
//
// A recurrence here computes y[i] = f(y[i-1], ..., y[i-k], i) where everything else f reads
// (inputs, coefficients) is fixed before the pass. Its state at i is the last k outputs, so the
// output array itself holds every intermediate state. Examples: the compressor's branching
// attack/release smoother (k = 1), the limiter's instant-attack release (k = 1), a direct-form-I
// biquad over a known input (k = 2).
//
// Decomposition (docs/algorithms.md "Speculative chunks"):
//  1. speculate: every chunk c > 0 runs from a guessed state (the recurrence's `guess`),
//     independently, in parallel, writing y over its own range;
//  2. fix up, chunks in order: chunk c re-runs from the true final outputs of chunk c-1 and stops
//     as soon as the last k re-run outputs equal the stored speculative ones bit for bit: from
//     there on both are the same deterministic function of the same state, so the rest of the
//     chunk already holds the sequential values. A chunk that never meets simply keeps its
//     re-run values, so the result equals the sequential loop for any chunk length.
//
// The recurrence type R provides:
//   using Value = float or double;          // type of y
//   static constexpr int order = k;          // 1 or 2
//   Value step(const Value* prev, int64_t i) const;  // y[i], given prev[j] = y[i-1-j], j < k
//   void  guess(Value* prev, int64_t start) const;   // a guess of y[start-1-j], j < k;
//                                                    // at start = 0 the true initial state
// Both must be deterministic functions of their arguments (and of fixed inputs).
#pragma once

#include "kernels/dsp/common.hpp"

namespace lq::dsp {

// Bitwise equality: -0.0 != +0.0 and NaN == NaN (same bits), as coalescence requires.
template <class V>
LQ_HD bool same_bits(V a, V b) {
  static_assert(sizeof(V) == 4 || sizeof(V) == 8);
  if constexpr (sizeof(V) == 4) {
    return __builtin_bit_cast(uint32_t, a) == __builtin_bit_cast(uint32_t, b);
  } else {
    return __builtin_bit_cast(uint64_t, a) == __builtin_bit_cast(uint64_t, b);
  }
}

// Runs the recurrence over [begin, end) starting from the state `prev` (prev[0] = y[begin-1],
// prev[1] = y[begin-2], ...). y is the whole output array; y[begin-k..begin-1] are not read.
template <class R>
LQ_HD void run_from_state(const R& rec, typename R::Value* y, int64_t begin, int64_t end,
                          const typename R::Value* prev) {
  using V = typename R::Value;
  constexpr int k = R::order;
  V s[k];
  for (int j = 0; j < k; ++j) s[j] = prev[j];
  for (int64_t i = begin; i < end; ++i) {
    const V v = rec.step(s, i);
    for (int j = k - 1; j > 0; --j) s[j] = s[j - 1];
    s[0] = v;
    y[i] = v;
  }
}

// Speculative pass of one chunk: runs [begin, end) from the recurrence's guessed state.
template <class R>
LQ_HD void speculate_chunk(const R& rec, typename R::Value* y, int64_t begin, int64_t end) {
  typename R::Value prev[R::order];
  rec.guess(prev, begin);
  run_from_state(rec, y, begin, end, prev);
}

// Re-runs [begin, end) from `prev`, writing values that differ from the stored ones, until the last
// k re-run outputs equal the stored ones bit for bit. Returns the samples re-run (end - begin when
// the trajectories never met); *changed tells whether anything was written.
template <class R>
LQ_HD int64_t rerun_until_met(const R& rec, typename R::Value* y, int64_t begin, int64_t end,
                              const typename R::Value* prev, bool* changed) {
  using V = typename R::Value;
  constexpr int k = R::order;
  V s[k];
  for (int j = 0; j < k; ++j) s[j] = prev[j];
  int matched = 0;
  *changed = false;
  for (int64_t i = begin; i < end; ++i) {
    const V v = rec.step(s, i);
    for (int j = k - 1; j > 0; --j) s[j] = s[j - 1];
    s[0] = v;
    if (same_bits(v, y[i])) {
      if (++matched == k) return i + 1 - begin;
    } else {
      matched = 0;
      y[i] = v;
      *changed = true;
    }
  }
  return end - begin;
}

// Fix-up pass of one chunk whose predecessor (y[begin-k..begin-1]) is final. Returns the number
// of samples re-run before the trajectories met (end - begin when they never met).
template <class R>
LQ_HD int64_t fixup_chunk(const R& rec, typename R::Value* y, int64_t begin, int64_t end) {
  using V = typename R::Value;
  constexpr int k = R::order;
  V s[k];
  V init[k];
  rec.guess(init, 0);
  for (int j = 0; j < k; ++j) s[j] = begin - 1 - j >= 0 ? y[begin - 1 - j] : init[j - begin];
  bool changed = false;
  return rerun_until_met(rec, y, begin, end, s, &changed);
}

// Parallel fix-up (the GPU's form of pass 2): rounds in which every chunk c > 0 re-runs at once from
// a snapshot of its predecessor's final k outputs taken before the round (chunk_end_state), until a
// round changes nothing. Invariant: each chunk always holds one trajectory of the recurrence from
// some state (a re-run replaces a prefix and stops where it meets the old values, which continue
// it). When a round changes nothing, every chunk starts from its predecessor's end, chunk 0 from the
// true initial state, so the array equals the sequential loop bit for bit. Chunk c is final after
// round c at the latest, so at most chunks - 1 rounds are needed; a typical signal needs a few.
template <class R>
LQ_HD void chunk_end_state(const typename R::Value* y, int64_t end, typename R::Value* state) {
  for (int j = 0; j < R::order; ++j) state[j] = y[end - 1 - j];
}

// One chunk's part of a round: rerun_until_met from `prev` (the predecessor's snapshot). Returns
// true when it wrote anything. The chunk must be at least k samples long.
template <class R>
LQ_HD bool refine_chunk(const R& rec, typename R::Value* y, int64_t begin, int64_t end,
                        const typename R::Value* prev) {
  bool changed = false;
  rerun_until_met(rec, y, begin, end, prev, &changed);
  return changed;
}

}  // namespace lq::dsp
