// gpu_floor: the floor a GPU render is compared against, measured on device 0.
//   (a) device memory bandwidth: a 1 GiB device-to-device cudaMemcpyAsync, counted as bytes
//       read + written (2 GiB per copy), median of 20 after 3 warm-ups;
//   (b) cuFFT throughput: batched float32 real FFTs, one R2C and one C2R out of place per
//       iteration, K = 2^20 (batch 64) and K = 2^15 (batch 2048), median of 20 after 3 warm-ups;
//       reported as transforms/s (R2C and C2R each count as one) and as GFLOP/s with the
//       conventional 2.5 K log2 K flops per real transform.
// Each measurement is checked before it is timed: the copy's bytes are compared, and the FFT
// round trip C2R(R2C(x)) / K is compared with x. All GPU work is timed with cudaEvents on one
// stream. Prints one JSON object on stdout. With no usable device it prints the single line
// "gpu_floor: no usable CUDA device: <reason>" and exits 0 so that scripts can go on; any
// failing CUDA or cuFFT call prints the call, file:line and error name and exits 1.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

// cuFFT has no error-name function; these are cufft.h's names, indexed by value.
inline const char* cufft_error_name(cufftResult r) {
  static const char* const names[] = {"CUFFT_SUCCESS",        "CUFFT_INVALID_PLAN",  "CUFFT_ALLOC_FAILED",
                                      "CUFFT_INVALID_TYPE",   "CUFFT_INVALID_VALUE", "CUFFT_INTERNAL_ERROR",
                                      "CUFFT_EXEC_FAILED",    "CUFFT_SETUP_FAILED",  "CUFFT_INVALID_SIZE",
                                      "CUFFT_UNALIGNED_DATA", "cufftResult 10",      "CUFFT_INVALID_DEVICE",
                                      "cufftResult 12",       "CUFFT_NO_WORKSPACE",  "CUFFT_NOT_IMPLEMENTED",
                                      "cufftResult 15",       "CUFFT_NOT_SUPPORTED"};
  const auto i = static_cast<size_t>(r);
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : "cufftResult (see cufft.h)";
}

#define LQ_CUDA_CHECK(call)                                                                              \
  do {                                                                                                   \
    const cudaError_t lq_err_ = (call);                                                                  \
    if (lq_err_ != cudaSuccess)                                                                          \
      throw std::runtime_error(std::string(#call) + " at " + __FILE__ + ":" + std::to_string(__LINE__) + \
                               ": " + cudaGetErrorName(lq_err_));                                        \
  } while (0)
#define LQ_CUFFT_CHECK(call)                                                                             \
  do {                                                                                                   \
    const cufftResult lq_res_ = (call);                                                                  \
    if (lq_res_ != CUFFT_SUCCESS)                                                                        \
      throw std::runtime_error(std::string(#call) + " at " + __FILE__ + ":" + std::to_string(__LINE__) + \
                               ": " + cufft_error_name(lq_res_) + " (" +                                 \
                               std::to_string(static_cast<int>(lq_res_)) + ")");                         \
  } while (0)

namespace {

constexpr int warmups = 3;
constexpr int repeats = 20;

// Owners of one handle each (not copyable); destructors never throw (STYLE.md 7, 9).
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { LQ_CUDA_CHECK(cudaMalloc(&p, bytes)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(p); }
};
struct Stream {
  cudaStream_t s = nullptr;
  Stream() { LQ_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { cudaStreamDestroy(s); }
};
struct Event {
  cudaEvent_t e = nullptr;
  Event() { LQ_CUDA_CHECK(cudaEventCreate(&e)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(e); }
};
struct FftPlan {
  cufftHandle h = 0;
  FftPlan(int k, cufftType type, int batch, cudaStream_t s) {
    LQ_CUFFT_CHECK(cufftPlanMany(&h, 1, &k, nullptr, 1, 0, nullptr, 1, 0, type, batch));
    LQ_CUFFT_CHECK(cufftSetStream(h, s));
  }
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;
  ~FftPlan() { cufftDestroy(h); }
};

// Deterministic test signal in [-0.5, 0.5): a multiplicative hash of the index.
__global__ void fill_signal(float* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    x[i] = static_cast<float>((static_cast<uint32_t>(i) * 2654435761u) >> 8) * (1.0f / 16777216.0f) - 0.5f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return 0.5 * (v[(v.size() - 1) / 2] + v[v.size() / 2]);
}

// Median seconds of `work` enqueued on `s`, timed with an event pair per repeat.
template <class F>
double time_median(cudaStream_t s, F&& work) {
  Event start, stop;
  for (int i = 0; i < warmups; ++i) work();
  LQ_CUDA_CHECK(cudaStreamSynchronize(s));
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    LQ_CUDA_CHECK(cudaEventRecord(start.e, s));
    work();
    LQ_CUDA_CHECK(cudaEventRecord(stop.e, s));
    LQ_CUDA_CHECK(cudaEventSynchronize(stop.e));
    float ms = 0.0f;
    LQ_CUDA_CHECK(cudaEventElapsedTime(&ms, start.e, stop.e));
    t.push_back(static_cast<double>(ms) * 1e-3);
  }
  return median(t);
}

nlohmann::json measure_bandwidth(cudaStream_t s) {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer src(bytes), dst(bytes);
  LQ_CUDA_CHECK(cudaMemsetAsync(src.p, 0x5A, bytes, s));
  LQ_CUDA_CHECK(cudaMemsetAsync(dst.p, 0x00, bytes, s));
  LQ_CUDA_CHECK(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, s));
  std::vector<unsigned char> probe(4096);
  for (size_t at : {size_t{0}, bytes / 2, bytes - probe.size()}) {
    LQ_CUDA_CHECK(cudaMemcpyAsync(probe.data(), static_cast<char*>(dst.p) + at, probe.size(),
                                  cudaMemcpyDeviceToHost, s));
    LQ_CUDA_CHECK(cudaStreamSynchronize(s));
    if (std::any_of(probe.begin(), probe.end(), [](unsigned char b) { return b != 0x5A; }))
      throw std::runtime_error("device-to-device copy check failed at byte " + std::to_string(at));
  }
  const double t = time_median(
      s, [&] { LQ_CUDA_CHECK(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, s)); });
  return {{"method", "cudaMemcpyAsync device-to-device, 1 GiB, bytes read + written"},
          {"bytes_moved", 2.0 * static_cast<double>(bytes)},
          {"median_s", t},
          {"bandwidth_gbs", 2.0 * static_cast<double>(bytes) / t * 1e-9}};
}

nlohmann::json measure_fft(int k, int batch, cudaStream_t s) {
  const int64_t n = int64_t{k} * batch;
  const int64_t bins = int64_t{k / 2 + 1} * batch;
  DeviceBuffer x(sizeof(float) * n), y(sizeof(float) * n), spec(sizeof(cufftComplex) * bins);
  FftPlan fwd(k, CUFFT_R2C, batch, s), inv(k, CUFFT_C2R, batch, s);
  auto* xr = static_cast<float*>(x.p);
  auto* yr = static_cast<float*>(y.p);
  auto* sc = static_cast<cufftComplex*>(spec.p);
  fill_signal<<<1024, 256, 0, s>>>(xr, n);
  LQ_CUDA_CHECK(cudaGetLastError());
  auto pair = [&] {
    LQ_CUFFT_CHECK(cufftExecR2C(fwd.h, xr, sc));
    LQ_CUFFT_CHECK(cufftExecC2R(inv.h, sc, yr));
  };
  pair();
  // Round-trip check on the first and the last transform of the batch.
  double worst = 0.0;
  std::vector<float> hx(static_cast<size_t>(k)), hy(static_cast<size_t>(k));
  for (int64_t b : {int64_t{0}, int64_t{batch - 1}}) {
    LQ_CUDA_CHECK(cudaMemcpyAsync(hx.data(), xr + b * k, sizeof(float) * k, cudaMemcpyDeviceToHost, s));
    LQ_CUDA_CHECK(cudaMemcpyAsync(hy.data(), yr + b * k, sizeof(float) * k, cudaMemcpyDeviceToHost, s));
    LQ_CUDA_CHECK(cudaStreamSynchronize(s));
    for (int i = 0; i < k; ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(hy[i]) / k - static_cast<double>(hx[i])));
  }
  // float32 FFT round-trip error grows like eps * log2 K; 1e-4 on a signal of amplitude 0.5 is
  // far above that and far below any indexing or scaling mistake.
  if (!(worst < 1e-4))
    throw std::runtime_error("cuFFT round trip K=" + std::to_string(k) + ": error " + std::to_string(worst));
  const double t = time_median(s, pair);
  const double transforms = 2.0 * batch;
  const double flops = transforms * 2.5 * k * std::log2(static_cast<double>(k));
  return {{"k", k},
          {"batch", batch},
          {"median_s", t},
          {"transforms_per_s", transforms / t},
          {"gflops", flops / t * 1e-9},
          {"roundtrip_max_abs_error", worst}};
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

int main() {
  int driver = 0, runtime = 0, count = 0;
  cudaRuntimeGetVersion(&runtime);
  std::string why;
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0) {
    why = "no NVIDIA driver is installed (libcuda not found)";
  } else if (const cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
    why = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
  } else if (count == 0) {
    why = "the driver reports no CUDA device";
  }
  if (!why.empty()) {
    std::printf("gpu_floor: no usable CUDA device: %s\n", why.c_str());
    return 0;
  }
  try {
    LQ_CUDA_CHECK(cudaSetDevice(0));
    cudaDeviceProp p{};
    LQ_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
    int cufft_version = 0;
    LQ_CUFFT_CHECK(cufftGetVersion(&cufft_version));
    Stream s;
    nlohmann::json out = {{"device", p.name},
                          {"cc", std::to_string(p.major) + "." + std::to_string(p.minor)},
                          {"multiprocessors", p.multiProcessorCount},
                          {"memory_bytes", p.totalGlobalMem},
                          {"driver_cuda_version", version_text(driver)},
                          {"runtime_cuda_version", version_text(runtime)},
                          {"cufft_version", cufft_version},
                          {"repeats", repeats},
                          {"statistic", "median"}};
    out["bandwidth"] = measure_bandwidth(s.s);
    out["bandwidth_gbs"] = out["bandwidth"]["bandwidth_gbs"];
    out["fft"] = nlohmann::json::array({measure_fft(1 << 20, 64, s.s), measure_fft(1 << 15, 2048, s.s)});
    std::printf("%s\n", out.dump(2).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_floor: %s\n", e.what());
    return 1;
  }
  return 0;
}
