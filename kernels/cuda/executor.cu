// The CUDA dynamics executor's device, stream and transfers, and the limiter's detector
// (kernels/cuda/executor.hpp).
//
// Detector: one thread per output position n computes the limiter's readings for every channel
// (the same functions and order of sums as the CPU, with FMA contraction off) and keeps the
// maximum; maxima reduce per block in shared memory, then on the host. A maximum is exact, so the
// figure does not depend on the reduction's shape.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "kernels/cuda/executor_impl.cuh"
#include "kernels/dsp/true_peak.hpp"

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
constexpr unsigned kReduceBlocks = 1024;  // fixed grid of the max reductions

__global__ void max_kernel(const double* v, long long n, double* block_max) {
  __shared__ double best[kThreads];
  double m = 0.0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    m = v[i] > m ? v[i] : m;
  }
  best[threadIdx.x] = m;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s && best[threadIdx.x + s] > best[threadIdx.x]) best[threadIdx.x] = best[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) block_max[blockIdx.x] = best[0];
}

// profile[n] = max over channels c of read(x_c, frames, n), for n < positions: one thread per position.
template <class Reading>
__global__ void profile_kernel(const float* x, int channels, long long frames, long long positions, Reading read,
                               double* profile) {
  const long long n = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (n >= positions) return;
  double m = 0.0;
  for (int c = 0; c < channels; ++c) {
    const double v = read(x + c * frames, frames, n);
    m = v > m ? v : m;
  }
  profile[n] = m;
}

double host_max_of_blocks(const DeviceBuffer<double>& blocks, cudaStream_t s) {
  std::vector<double> h(blocks.size());
  blocks.download(h.data(), h.size());
  LQ_CUDA_CHECK(cudaStreamSynchronize(s));
  return h.empty() ? 0.0 : *std::max_element(h.begin(), h.end());
}

}  // namespace

double device_max(const double* values, int64_t n, cudaStream_t stream) {
  if (n <= 0) return 0.0;
  DeviceBuffer<double> blocks(kReduceBlocks, stream);
  max_kernel<<<kReduceBlocks, kThreads, 0, stream>>>(values, n, blocks.get());
  LQ_CUDA_CHECK_LAUNCH();
  return host_max_of_blocks(blocks, stream);
}

DeviceAudio Executor::Impl::upload(const cpu::AudioBuffer& a) {
  DeviceAudio d{DeviceBuffer<float>(static_cast<size_t>(a.channel_count()) * static_cast<size_t>(a.frames()), s()),
                a.channel_count(), a.frames()};
  for (int c = 0; c < d.channels; ++c) {
    d.data.upload(a.channels[static_cast<size_t>(c)].data(), static_cast<size_t>(d.frames),
                  static_cast<size_t>(c) * static_cast<size_t>(d.frames));
  }
  return d;
}

void Executor::Impl::download(const DeviceAudio& d, cpu::AudioBuffer& a) {
  for (int c = 0; c < d.channels; ++c) {
    d.data.download(a.channels[static_cast<size_t>(c)].data(), static_cast<size_t>(d.frames),
                    static_cast<size_t>(c) * static_cast<size_t>(d.frames));
  }
  LQ_CUDA_CHECK(cudaStreamSynchronize(s()));
}

// The limiter's 4x sinc phases (dsp::sinc_taps), uploaded by the Executor's constructor.
__constant__ float kSincTapsDevice[dsp::kSincFilterCount][dsp::kSincPhases][dsp::kSincMaxTaps];

// The limiter's reading: max(true_peak_at (n < frames + 11), |sum_t h_fp[t] x[n - t]| over filters f
// and phases p), positions [0, frames + 127) (kernels/cpu/limiter.cpp limiter_detector_profile, which
// sums the sincs by FFT: the two agree to about 1e-6).
struct LimiterReading {
  __device__ double operator()(const float* x, long long frames, long long n) const {
    double m = n < frames + dsp::kTruePeakTapsPerPhase - 1 ? dsp::true_peak_at(x, frames, n) : 0.0;
    for (int f = 0; f < dsp::kSincFilterCount; ++f) {
      const int taps = 2 * dsp::sinc_filter(f).half_width;
      for (int p = 0; p < dsp::kSincPhases; ++p) {
        double acc = 0.0;
        for (int t = 0; t < taps; ++t) {
          const long long i = n - t;
          if (i >= 0 && i < frames) acc += double(kSincTapsDevice[f][p][t]) * double(x[i]);
        }
        const double v = acc < 0.0 ? -acc : acc;
        m = v > m ? v : m;
      }
    }
    return m;
  }
};

double Executor::Impl::limiter_peak(const DeviceAudio& a, double* profile) {
  const long long positions = a.frames + dsp::kLimiterSupport - 1;
  profile_kernel<<<grid_for(positions, kThreads), kThreads, 0, s()>>>(a.data.get(), a.channels, a.frames, positions,
                                                                       LimiterReading{}, profile);
  LQ_CUDA_CHECK_LAUNCH();
  return device_max(profile, positions, s());
}

Executor::Executor(int device_index) : impl_() {
  LQ_CUDA_CHECK(cudaSetDevice(device_index));
  impl_ = std::make_unique<Impl>();
  impl_->device = device_index;
  cudaDeviceProp p{};
  LQ_CUDA_CHECK(cudaGetDeviceProperties(&p, device_index));
  char buf[512];
  std::snprintf(buf, sizeof buf, "cuda:%d %s (sm_%d%d, %zu MiB)", device_index, p.name, p.major, p.minor,
                static_cast<size_t>(p.totalGlobalMem >> 20));
  impl_->description = buf;
  // Keep freed blocks in the stream-ordered pool for the next stage instead of returning them to
  // the driver at every synchronisation.
  cudaMemPool_t pool = nullptr;
  LQ_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_index));
  uint64_t keep = UINT64_MAX;
  LQ_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  float taps[dsp::kSincFilterCount][dsp::kSincPhases][dsp::kSincMaxTaps];
  dsp::sinc_taps(taps);
  // Stream-ordered (the kernels run on a non-blocking stream), and complete before `taps` goes.
  LQ_CUDA_CHECK(cudaMemcpyToSymbolAsync(kSincTapsDevice, taps, sizeof taps, 0, cudaMemcpyHostToDevice, impl_->s()));
  LQ_CUDA_CHECK(cudaStreamSynchronize(impl_->s()));
}

Executor::~Executor() {
  if (impl_) cudaStreamSynchronize(impl_->s());
}

std::string Executor::description() const { return impl_->description; }

}  // namespace lq::cuda
