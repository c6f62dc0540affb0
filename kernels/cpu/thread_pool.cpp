#include "kernels/cpu/thread_pool.hpp"

#include <exception>

namespace lq::cpu {

namespace {
thread_local bool t_in_job = false;  // parallel_for from inside a job runs serially
}

bool ThreadPool::parallel_here() const { return !workers_.empty() && !t_in_job; }

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

// Takes indices until none are left; records the first exception.
void ThreadPool::drain() {
  for (;;) {
    int64_t i;
    const std::function<void(int64_t)>* job;
    {
      std::lock_guard lock(mutex_);
      if (job_ == nullptr || next_ >= job_size_) return;
      i = next_++;
      job = job_;
    }
    try {
      t_in_job = true;
      (*job)(i);
      t_in_job = false;
    } catch (...) {
      t_in_job = false;
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      if (++finished_ == job_size_) done_.notify_all();
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    drain();
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || t_in_job) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    job_size_ = n;
    next_ = 0;
    finished_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  drain();
  std::exception_ptr error;
  {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return finished_ == job_size_; });
    job_ = nullptr;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace lq::cpu
