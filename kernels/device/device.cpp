// The device interface's counting (kernels/device/device.hpp): every call is counted here, once,
// whichever executor runs it.
#include "kernels/device/device.hpp"

#include <algorithm>

namespace lq::dev {

void* Device::allocate(size_t bytes) {
  void* p = do_allocate(bytes);
  counters_.device_bytes += int64_t(bytes);
  counters_.peak_device_bytes = std::max(counters_.peak_device_bytes, counters_.device_bytes);
  return p;
}

void Device::release(void* p, size_t bytes) {
  do_release(p);
  counters_.device_bytes -= int64_t(bytes);
}

void Device::upload(void* dst, const void* src, size_t bytes) {
  do_upload(dst, src, bytes);
  counters_.h2d_bytes += int64_t(bytes);
}

void Device::download(void* dst, const void* src, size_t bytes) {
  do_download(dst, src, bytes);
  counters_.d2h_bytes += int64_t(bytes);
}

void Device::copy(void* dst, const void* src, size_t bytes) {
  do_copy(dst, src, bytes);
  counters_.d2d_bytes += int64_t(bytes);
}

void Device::sync() {
  do_sync();
  ++counters_.syncs;
}

void Device::launch(const Kernel& k, int64_t n) {
  if (n <= 0) return;
  do_launch(k, n);
  ++counters_.launches;
  counters_.launch_items += n;
  counters_.kernel_bytes += bytes_touched(k, n);
}

namespace {

// Device memory one real transform of k samples moves, batch times (Counters::fft_bytes).
int64_t fft_bytes(int64_t k, int64_t batch, int64_t real_bytes) {
  const int64_t once = k * real_bytes + (k / 2 + 1) * 2 * real_bytes;
  return once * batch * (k > 4096 ? 2 : 1);
}

}  // namespace

void Device::rfft(const float* in, Complex* out, int k, int batch) {
  do_rfft(in, out, k, batch);
  ++counters_.ffts;
  counters_.fft_samples += int64_t(k) * batch;
  counters_.fft_bytes += fft_bytes(k, batch, 4);
}

void Device::irfft(const Complex* in, float* out, int k, int batch) {
  do_irfft(in, out, k, batch);
  ++counters_.ffts;
  counters_.fft_samples += int64_t(k) * batch;
  counters_.fft_bytes += fft_bytes(k, batch, 4);
}

void Device::rfft_double(const double* in, DoubleComplex* out, int k) {
  do_rfft_double(in, out, k);
  ++counters_.ffts;
  counters_.fft_samples += k;
  counters_.fft_bytes += fft_bytes(k, 1, 8);
}

}  // namespace lq::dev
