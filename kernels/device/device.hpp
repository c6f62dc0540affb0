// The device interface (docs/architecture.md "The device interface"): what the device render's
// orchestration (host/device_backend.cpp) may ask of a device. Two executors implement it:
//  - CUDA (kernels/cuda/cuda_device.cu): one stream, stream-ordered allocations, cuFFT, each
//    kernel of kernels/device/kernels.hpp wrapped in one templated __global__ function;
//  - host (kernels/device/host_device.cpp): ordinary memory, a loop over each launch's indices
//    calling the same kernel bodies, FFTW with cuFFT's batch layout and scaling. A test aid that
//    runs every line of the orchestration and the kernel bodies on machines without a GPU.
// No CUDA type appears here, so host code compiles against it with any C++ compiler.
//
// Semantics are the GPU's, and the host executor enforces what it can: work is ordered as
// issued; a download's destination holds the data only after the next sync() (before it, the host
// executor fills it with NaN, so a missing sync fails a test); an upload's source must stay valid
// until the next sync(); device memory is never dereferenced by the host.
//
// Every call is counted (Counters) by this class, not by the executors, so both count the same
// things: the report carries the counts (lacquer.device_counters) and benchmarks estimate GPU time
// from them (benchmarks/gpu_estimate.py).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "kernels/device/kernels.hpp"

namespace lq::dev {

struct Counters {
  int64_t h2d_bytes = 0;          // host -> device copies
  int64_t d2h_bytes = 0;          // device -> host copies
  int64_t d2d_bytes = 0;          // copies within the device
  int64_t syncs = 0;              // host waits for the device
  int64_t launches = 0;           // kernel launches
  int64_t launch_items = 0;       // indices over all launches
  int64_t kernel_bytes = 0;       // device memory the launches read and write (dev::bytes_touched)
  int64_t ffts = 0;               // FFT executions (a batched call is one)
  int64_t fft_samples = 0;        // real samples transformed (K per frame of a batch)
  int64_t fft_bytes = 0;          // device memory the FFTs read and write (an estimate: reals in or
                                  // out, bins the other way, twice where K > 4096: two passes)
  int64_t device_bytes = 0;       // allocated now
  int64_t peak_device_bytes = 0;  // the most allocated at once
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string description() const = 0;

  void* allocate(size_t bytes);
  void release(void* p, size_t bytes);
  void upload(void* dst, const void* src, size_t bytes);
  void download(void* dst, const void* src, size_t bytes);
  void copy(void* dst, const void* src, size_t bytes);
  void sync();
  // Runs `k` for every index in [0, n).
  void launch(const Kernel& k, int64_t n);
  // `batch` real frames of k samples each, contiguous -> k/2 + 1 bins each (unnormalised).
  void rfft(const float* in, Complex* out, int k, int batch);
  // The inverse: `batch` frames of k/2 + 1 bins -> k real samples each, unscaled (k times the input).
  void irfft(const Complex* in, float* out, int k, int batch);
  // One frame in float64 (filter spectra): k reals -> k/2 + 1 bins, unnormalised.
  void rfft_double(const double* in, DoubleComplex* out, int k);

  const Counters& counters() const { return counters_; }

 protected:
  virtual void* do_allocate(size_t bytes) = 0;
  virtual void do_release(void* p) = 0;
  virtual void do_upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void do_download(void* dst, const void* src, size_t bytes) = 0;
  virtual void do_copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void do_sync() = 0;
  virtual void do_launch(const Kernel& k, int64_t n) = 0;
  virtual void do_rfft(const float* in, Complex* out, int k, int batch) = 0;
  virtual void do_irfft(const Complex* in, float* out, int k, int batch) = 0;
  virtual void do_rfft_double(const double* in, DoubleComplex* out, int k) = 0;

 private:
  Counters counters_;
};

// `n` values of T in device memory, released when it goes out of scope (stream-ordered: the
// release waits for the work issued before it).
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Device& d, size_t n) : d_(&d), p_(n ? static_cast<T*>(d.allocate(n * sizeof(T))) : nullptr), n_(n) {}
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept : d_(o.d_), p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      d_ = o.d_;
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  T* get() const { return p_; }
  size_t size() const { return n_; }
  // n values from host `src` to this buffer at `offset` (src valid until the next sync).
  void upload(const T* src, size_t n, size_t offset = 0) {
    if (n) d_->upload(p_ + offset, src, n * sizeof(T));
  }
  // n values at `offset` to host `dst` (valid after the next sync).
  void download(T* dst, size_t n, size_t offset = 0) const {
    if (n) d_->download(dst, p_ + offset, n * sizeof(T));
  }

 private:
  void reset() {
    if (p_) d_->release(p_, n_ * sizeof(T));
    p_ = nullptr;
    n_ = 0;
  }
  Device* d_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace lq::dev
