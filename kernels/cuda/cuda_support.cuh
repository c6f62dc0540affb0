// RAII owners and error checks for the CUDA backend (docs/architecture.md "Conventions"): every
// CUDA and cuFFT call is checked and throws with the call's text, file:line and the error's name;
// destructors never throw.
// Device memory comes from the stream-ordered pool (cudaMallocAsync / cudaFreeAsync), so buffers
// freed at the end of a stage are reused by the next without a device-wide synchronisation.
// CUDA-only header: included by .cu files, never by host/.
#pragma once

#include <cuda_runtime.h>
#include <cufft.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace lq::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const char* cufft_error_name(cufftResult r);

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cufft_error(cufftResult r, const char* call, const char* file, int line);

#define LQ_CUDA_CHECK(call)                                                           \
  do {                                                                                \
    const cudaError_t lq_err_ = (call);                                               \
    if (lq_err_ != cudaSuccess) ::lq::cuda::throw_cuda_error(lq_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define LQ_CUFFT_CHECK(call)                                                          \
  do {                                                                                \
    const cufftResult lq_res_ = (call);                                               \
    if (lq_res_ != CUFFT_SUCCESS) ::lq::cuda::throw_cufft_error(lq_res_, #call, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: the launch's own error (bad configuration, no kernel image).
#define LQ_CUDA_CHECK_LAUNCH() LQ_CUDA_CHECK(cudaGetLastError())

class Stream {
 public:
  Stream() { LQ_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_) cudaStreamDestroy(s_);
  }
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&&) = delete;
  Stream(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void synchronize() const { LQ_CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  Event() { LQ_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~Event() {
    if (e_) cudaEventDestroy(e_);
  }
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&&) = delete;
  Event(const Event&) = delete;
  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s) { LQ_CUDA_CHECK(cudaEventRecord(e_, s)); }
  // Milliseconds from `start` to this event (both recorded and complete).
  float ms_since(const Event& start) const {
    float ms = 0.0f;
    LQ_CUDA_CHECK(cudaEventElapsedTime(&ms, start.e_, e_));
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

// A typed device array from the stream-ordered pool; never default-constructed empty by accident:
// the size is given at construction (0 allowed), freed on the stream it was allocated on.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(size_t count, cudaStream_t stream) : count_(count), stream_(stream) {
    if (count_ > 0) LQ_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&p_), count_ * sizeof(T), stream_));
  }
  ~DeviceBuffer() {
    if (p_) cudaFreeAsync(p_, stream_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), count_(std::exchange(o.count_, 0)), stream_(o.stream_) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (p_) cudaFreeAsync(p_, stream_);
      p_ = std::exchange(o.p_, nullptr);
      count_ = std::exchange(o.count_, 0);
      stream_ = o.stream_;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;

  T* get() const { return p_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

  void upload(const T* host, size_t count, size_t at = 0) {
    if (count) LQ_CUDA_CHECK(cudaMemcpyAsync(p_ + at, host, count * sizeof(T), cudaMemcpyHostToDevice, stream_));
  }
  void download(T* host, size_t count, size_t at = 0) const {
    if (count) LQ_CUDA_CHECK(cudaMemcpyAsync(host, p_ + at, count * sizeof(T), cudaMemcpyDeviceToHost, stream_));
  }
  void fill_zero() {
    if (count_) LQ_CUDA_CHECK(cudaMemsetAsync(p_, 0, bytes(), stream_));
  }

 private:
  T* p_ = nullptr;
  size_t count_ = 0;
  cudaStream_t stream_ = nullptr;
};

// A cuFFT plan for `batch` contiguous real transforms of size k (R2C, C2R, D2Z or Z2D), bound to a stream.
class FftPlan {
 public:
  FftPlan(int k, int batch, cufftType type, cudaStream_t stream) {
    LQ_CUFFT_CHECK(cufftCreate(&plan_));
    int n[1] = {k};
    size_t work = 0;
    const bool forward = type == CUFFT_R2C || type == CUFFT_D2Z;  // real -> complex
    const cufftResult r = cufftMakePlanMany(plan_, 1, n, nullptr, 1, forward ? k : k / 2 + 1, nullptr, 1,
                                            forward ? k / 2 + 1 : k, type, batch, &work);
    if (r != CUFFT_SUCCESS) {
      cufftDestroy(plan_);
      throw_cufft_error(r, "cufftMakePlanMany", __FILE__, __LINE__);
    }
    const cufftResult s = cufftSetStream(plan_, stream);
    if (s != CUFFT_SUCCESS) {
      cufftDestroy(plan_);
      throw_cufft_error(s, "cufftSetStream", __FILE__, __LINE__);
    }
  }
  ~FftPlan() {
    if (valid_) cufftDestroy(plan_);
  }
  FftPlan(FftPlan&& o) noexcept : plan_(o.plan_), valid_(std::exchange(o.valid_, false)) {}
  FftPlan& operator=(FftPlan&&) = delete;
  FftPlan(const FftPlan&) = delete;
  cufftHandle get() const { return plan_; }

 private:
  cufftHandle plan_ = 0;
  bool valid_ = true;
};

// Launch arithmetic: blocks of `threads` covering n items (at least 1 block).
inline unsigned grid_for(long long n, unsigned threads) {
  const long long b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

}  // namespace lq::cuda
