// One created stream per device. Not the legacy default stream: it would serialise with every other
// library's work in the process, and CUDA graphs and copy/compute overlap need streams of their own.
#include <array>
#include <atomic>
#include <mutex>

#include "engine/cuda/check.h"

namespace dismax::cuda {

namespace {
constexpr int kMaxDevices = 64;
std::array<std::atomic<cudaStream_t>, kMaxDevices> streams{};
std::mutex creating;
}  // namespace

cudaStream_t stream(int device) {
  DISMAX_CHECK(device >= 0 && device < kMaxDevices, "cuda:", device, ": device index out of range");
  cudaStream_t s = streams[device].load(std::memory_order_acquire);
  if (s != nullptr) return s;
  std::lock_guard<std::mutex> lock(creating);
  s = streams[device].load(std::memory_order_relaxed);
  if (s != nullptr) return s;
  int previous = 0;
  DISMAX_CUDA_CHECK(cudaGetDevice(&previous));
  if (previous != device) DISMAX_CUDA_CHECK(cudaSetDevice(device));
  const cudaError_t status = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  if (previous != device) cudaSetDevice(previous);
  DISMAX_CUDA_CHECK(status);
  streams[device].store(s, std::memory_order_release);  // never destroyed: streams die with the context
  return s;
}

cudaStream_t stream() {
  int device = 0;
  DISMAX_CUDA_CHECK(cudaGetDevice(&device));
  return stream(device);
}

}  // namespace dismax::cuda
