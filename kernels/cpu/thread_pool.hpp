// A fixed-size thread pool for the CPU backend.
//
// parallel_for(n, fn) calls fn(i) once for every i in [0, n) and returns when all are done. The
// calling thread works too. Which thread runs which index is not fixed, so callers must make
// each fn(i) write only its own outputs: results are then independent of the thread count.
// A parallel_for called from inside a job runs serially on the calling thread (no deadlock).
// One parallel_for at a time per pool: callers on different threads must use different pools.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lq::cpu {

class ThreadPool {
 public:
  // threads <= 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Whether a parallel_for called here would run on more than one thread (not from inside a job,
  // and the pool has workers).
  bool parallel_here() const;
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

 private:
  void worker_loop();
  void drain();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_size_ = 0;
  int64_t next_ = 0;
  int64_t finished_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// Calls f(begin, end) for the consecutive blocks of `block` frames covering [0, n), in parallel.
// The blocking depends only on n and block, never on the thread count.
template <class F>
void parallel_for_blocks(ThreadPool& pool, int64_t n, int64_t block, F&& f) {
  const int64_t blocks = (n + block - 1) / block;
  pool.parallel_for(blocks, [&](int64_t b) { f(b * block, b * block + block < n ? b * block + block : n); });
}

}  // namespace lq::cpu
