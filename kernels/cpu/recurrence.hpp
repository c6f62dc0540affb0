// CPU executor of the chunked recurrences in kernels/dsp/recurrence.hpp.
//
// run_chunked(pool, rec, y, n, chunk): speculative pass over all chunks in parallel, then the
// fix-up pass in chunk order (where the pool would run one thread, the plain loop instead). Equal
// to the sequential loop bit for bit for any chunk >= 1 (tests/dsp/recurrence_test.cpp); chunk is
// only a speed knob.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/thread_pool.hpp"
#include "kernels/dsp/recurrence.hpp"

namespace lq::cpu {

// Sequential reference: the plain loop from the recurrence's initial state (guess at 0).
template <class R>
void run_sequential(const R& rec, typename R::Value* y, int64_t n) {
  dsp::speculate_chunk(rec, y, 0, n);
}

// A recurrence continued from a known state: R over a span of a longer signal, `initial` holding
// the outputs just before the span (initial[j] = y[-1-j]), so that spans run in order give the
// sequential loop's values over the whole signal.
template <class R>
struct FromState {
  using Value = typename R::Value;
  static constexpr int order = R::order;
  R rec;
  Value initial[R::order];
  Value step(const Value* prev, int64_t i) const { return rec.step(prev, i); }
  void guess(Value* prev, int64_t start) const {
    if (start == 0) {
      for (int j = 0; j < order; ++j) prev[j] = initial[j];
    } else {
      rec.guess(prev, start);
    }
  }
};

// Returns the number of samples re-run in the fix-up pass (a measure of wasted work).
template <class R>
int64_t run_chunked(ThreadPool& pool, const R& rec, typename R::Value* y, int64_t n,
                    int64_t chunk) {
  if (n <= 0) return 0;
  chunk = std::max<int64_t>(chunk, 1);
  const int64_t chunks = (n + chunk - 1) / chunk;
  if (chunks == 1 || !pool.parallel_here()) {  // one thread: the plain loop, nothing to re-run
    dsp::speculate_chunk(rec, y, 0, n);
    return 0;
  }
  pool.parallel_for(chunks, [&](int64_t c) {
    dsp::speculate_chunk(rec, y, c * chunk, std::min(n, (c + 1) * chunk));
  });
  int64_t rerun = 0;
  for (int64_t c = 1; c < chunks; ++c) {
    rerun += dsp::fixup_chunk(rec, y, c * chunk, std::min(n, (c + 1) * chunk));
  }
  return rerun;
}

}  // namespace lq::cpu
