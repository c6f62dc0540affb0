// The CUDA executor (kernels/cuda/cuda_device.hpp): the thin layer of the device interface that
// only a GPU runs. One non-blocking stream; allocations from the device's stream-ordered pool
// (kept across syncs); copies with cudaMemcpyAsync on the stream; a launch is one templated
// __global__ wrapper per kernel struct of kernels/device/kernels.hpp (one thread per index, the
// body is the struct's LQ_HD operator()); FFTs are cuFFT plans cached by (K, batch, type).
// Every call sets the device first, so plans and allocations land on this executor's device
// whatever the calling thread last selected.
#include <cuda_runtime.h>
#include <cufft.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "kernels/cuda/cuda_device.hpp"
#include "kernels/cuda/cuda_support.cuh"

namespace lq::cuda {

const char* cufft_error_name(cufftResult r) {
  switch (r) {
    case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
    case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
    default: return "cufftResult(unknown)";
  }
}

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw CudaError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

void throw_cufft_error(cufftResult r, const char* call, const char* file, int line) {
  throw CudaError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  cufft_error_name(r));
}

namespace {

constexpr unsigned kThreads = 256;

template <class K>
__global__ void run_kernel(K k, long long n) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) k(i);
}

static_assert(sizeof(dev::Complex) == sizeof(cufftComplex), "dev::Complex is cufftComplex's layout");
static_assert(sizeof(dev::DoubleComplex) == sizeof(cufftDoubleComplex), "dev::DoubleComplex is cufftDoubleComplex's layout");

class CudaDevice final : public dev::Device {
 public:
  explicit CudaDevice(int index) : index_(index) {
    LQ_CUDA_CHECK(cudaSetDevice(index_));
    stream_ = std::make_unique<Stream>();
    cudaDeviceProp p{};
    LQ_CUDA_CHECK(cudaGetDeviceProperties(&p, index_));
    char buf[512];
    std::snprintf(buf, sizeof buf, "cuda:%d %s (sm_%d%d, %zu MiB)", index_, p.name, p.major, p.minor,
                  static_cast<size_t>(p.totalGlobalMem >> 20));
    description_ = buf;
    cudaMemPool_t pool = nullptr;
    LQ_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, index_));
    uint64_t keep = UINT64_MAX;
    LQ_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  }
  ~CudaDevice() override {
    cudaSetDevice(index_);
    if (stream_) cudaStreamSynchronize(stream_->get());
    plans_.clear();
  }
  std::string description() const override { return description_; }

 protected:
  void* do_allocate(size_t bytes) override {
    select();
    void* p = nullptr;
    LQ_CUDA_CHECK(cudaMallocAsync(&p, bytes ? bytes : 1, s()));
    return p;
  }
  void do_release(void* p) override {
    cudaSetDevice(index_);
    cudaFreeAsync(p, s());
  }
  void do_upload(void* dst, const void* src, size_t bytes) override {
    select();
    LQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s()));
  }
  void do_download(void* dst, const void* src, size_t bytes) override {
    select();
    LQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s()));
  }
  void do_copy(void* dst, const void* src, size_t bytes) override {
    select();
    LQ_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s()));
  }
  void do_sync() override {
    select();
    LQ_CUDA_CHECK(cudaStreamSynchronize(s()));
  }
  void do_launch(const dev::Kernel& k, int64_t n) override {
    select();
    std::visit(
        [&](const auto& body) {
          run_kernel<<<grid_for((long long)n, kThreads), kThreads, 0, s()>>>(body, (long long)n);
        },
        k);
    // The launch's own error (configuration, no kernel image for this GPU), naming the kernel.
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
      throw CudaError(std::string("launch of ") + dev::kernel_name(k) + " over " + std::to_string(n) +
                      " indices failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
    }
  }
  void do_rfft(const float* in, dev::Complex* out, int k, int batch) override {
    select();
    LQ_CUFFT_CHECK(cufftExecR2C(plan(k, batch, CUFFT_R2C), const_cast<float*>(in), reinterpret_cast<cufftComplex*>(out)));
  }
  void do_irfft(const dev::Complex* in, float* out, int k, int batch) override {
    select();
    LQ_CUFFT_CHECK(cufftExecC2R(plan(k, batch, CUFFT_C2R), reinterpret_cast<cufftComplex*>(const_cast<dev::Complex*>(in)), out));
  }
  void do_rfft_double(const double* in, dev::DoubleComplex* out, int k) override {
    select();
    LQ_CUFFT_CHECK(cufftExecD2Z(plan(k, 1, CUFFT_D2Z), const_cast<double*>(in), reinterpret_cast<cufftDoubleComplex*>(out)));
  }

 private:
  cudaStream_t s() const { return stream_->get(); }
  void select() const { LQ_CUDA_CHECK(cudaSetDevice(index_)); }
  cufftHandle plan(int k, int batch, cufftType type) {
    const auto key = std::make_tuple(k, batch, int(type));
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, FftPlan(k, batch, type, s())).first;
    return it->second.get();
  }

  int index_;
  std::string description_;
  std::unique_ptr<Stream> stream_;
  std::map<std::tuple<int, int, int>, FftPlan> plans_;
};

}  // namespace

std::unique_ptr<dev::Device> make_cuda_device(int index) { return std::make_unique<CudaDevice>(index); }

}  // namespace lq::cuda
