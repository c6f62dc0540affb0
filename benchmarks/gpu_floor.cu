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

#include "kernels/cuda/cuda_support.cuh"
#include "kernels/cuda/device_query.cuh"

namespace {

using lq::cuda::DeviceBuffer;
using lq::cuda::Event;
using lq::cuda::FftPlan;
using lq::cuda::Stream;

constexpr int warmups = 3;
constexpr int repeats = 20;

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
    start.record(s);
    work();
    stop.record(s);
    LQ_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    t.push_back(static_cast<double>(stop.ms_since(start)) * 1e-3);
  }
  return median(t);
}

nlohmann::json measure_bandwidth(cudaStream_t s) {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer<unsigned char> src(bytes, s), dst(bytes, s);
  LQ_CUDA_CHECK(cudaMemsetAsync(src.get(), 0x5A, bytes, s));
  dst.fill_zero();
  LQ_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, s));
  std::vector<unsigned char> probe(4096);
  for (size_t at : {size_t{0}, bytes / 2, bytes - probe.size()}) {
    dst.download(probe.data(), probe.size(), at);
    LQ_CUDA_CHECK(cudaStreamSynchronize(s));
    if (std::any_of(probe.begin(), probe.end(), [](unsigned char b) { return b != 0x5A; }))
      throw std::runtime_error("device-to-device copy check failed at byte " + std::to_string(at));
  }
  const double t = time_median(
      s, [&] { LQ_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, s)); });
  return {{"method", "cudaMemcpyAsync device-to-device, 1 GiB, bytes read + written"},
          {"bytes_moved", 2.0 * static_cast<double>(bytes)},
          {"median_s", t},
          {"bandwidth_gbs", 2.0 * static_cast<double>(bytes) / t * 1e-9}};
}

nlohmann::json measure_fft(int k, int batch, cudaStream_t s) {
  const int64_t n = int64_t{k} * batch;
  const int64_t bins = int64_t{k / 2 + 1} * batch;
  DeviceBuffer<float> x(size_t(n), s), y(size_t(n), s);
  DeviceBuffer<cufftComplex> spec(size_t(bins), s);
  const FftPlan fwd(k, batch, CUFFT_R2C, s), inv(k, batch, CUFFT_C2R, s);
  float* xr = x.get();
  float* yr = y.get();
  cufftComplex* sc = spec.get();
  fill_signal<<<1024, 256, 0, s>>>(xr, n);
  LQ_CUDA_CHECK_LAUNCH();
  auto pair = [&] {
    LQ_CUFFT_CHECK(cufftExecR2C(fwd.get(), xr, sc));
    LQ_CUFFT_CHECK(cufftExecC2R(inv.get(), sc, yr));
  };
  pair();
  // Round-trip check on the first and the last transform of the batch.
  double worst = 0.0;
  std::vector<float> hx(static_cast<size_t>(k)), hy(static_cast<size_t>(k));
  for (int64_t b : {int64_t{0}, int64_t{batch - 1}}) {
    x.download(hx.data(), size_t(k), size_t(b * k));
    y.download(hy.data(), size_t(k), size_t(b * k));
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
  const lq::cuda::DeviceReport devices = lq::cuda::query_devices();
  if (devices.devices.empty()) {
    std::printf("gpu_floor: no usable CUDA device: %s\n", devices.why_none.c_str());
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
                          {"driver_cuda_version", version_text(devices.driver_version)},
                          {"runtime_cuda_version", version_text(devices.runtime_version)},
                          {"cufft_version", cufft_version},
                          {"repeats", repeats},
                          {"statistic", "median"}};
    out["bandwidth"] = measure_bandwidth(s.get());
    out["bandwidth_gbs"] = out["bandwidth"]["bandwidth_gbs"];
    out["fft"] = nlohmann::json::array({measure_fft(1 << 20, 64, s.get()), measure_fft(1 << 15, 2048, s.get())});
    std::printf("%s\n", out.dump(2).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_floor: %s\n", e.what());
    return 1;
  }
  return 0;
}
