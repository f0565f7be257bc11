// Caching device allocator: freed blocks are kept per device and size class, so the training loop stops
// calling cudaMalloc/cudaFree (which synchronise the device) after the first step.
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/allocator.h"
#include "engine/cuda/check.h"

namespace dismax::cuda {

namespace {

size_t size_class(size_t nbytes) {
  if (nbytes <= (size_t{1} << 20)) return std::max<size_t>(512, (nbytes + 511) & ~size_t{511});
  size_t power = size_t{1} << 20;
  while (power * 2 < nbytes) power *= 2;
  const size_t step = power / 8;
  return (nbytes + step - 1) / step * step;
}

class CachingCudaAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes, int device) override {
    const size_t size = size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.requests;
      auto& blocks = free_[{device, size}];
      if (!blocks.empty()) {
        void* p = blocks.back();
        blocks.pop_back();
        stats_.cached_bytes -= size;
        stats_.allocated_bytes += size;
        return DataPtr(p, size, this, device);
      }
      ++stats_.system_allocations;
      stats_.allocated_bytes += size;
    }
    int previous = 0;
    DISMAX_CUDA_CHECK(cudaGetDevice(&previous));
    DISMAX_CUDA_CHECK(cudaSetDevice(device));
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      forget_error(status);
      release_cached(device);
      status = cudaMalloc(&p, size);
    }
    cudaSetDevice(previous);
    if (status != cudaSuccess) {
      forget_error(status);  // the failed cudaMalloc must not surface in the next, unrelated launch check
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.allocated_bytes -= size;
      DISMAX_FAIL("cudaMalloc of ", size, " bytes on cuda:", device, " failed: ", cudaGetErrorString(status));
    }
    return DataPtr(p, size, this, device);
  }

  // Never throws: when keeping the block would need memory that is not there, it is freed instead
  // (cudaFree waits for the device, so work still using the block has finished).
  void release(void* ptr, size_t nbytes, int device) noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.allocated_bytes -= nbytes;
    try {
      free_[{device, nbytes}].push_back(ptr);
      stats_.cached_bytes += nbytes;
    } catch (...) {
      int previous = 0;
      cudaGetDevice(&previous);
      cudaSetDevice(device);
      cudaFree(ptr);
      cudaSetDevice(previous);
    }
  }

  void empty_cache() override {
    std::vector<int> devices;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& [key, blocks] : free_) devices.push_back(key.first);
    }
    for (int d : devices) release_cached(d);
  }

  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  struct KeyHash {
    size_t operator()(const std::pair<int, size_t>& k) const { return std::hash<size_t>()(k.second * 131 + k.first); }
  };

  void release_cached(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(device);
    cudaDeviceSynchronize();  // cudaFree would wait too; blocks freed on the stream may still be in use
    for (auto& [key, blocks] : free_) {
      if (key.first != device) continue;
      for (void* p : blocks) {
        cudaFree(p);
        stats_.cached_bytes -= key.second;
      }
      blocks.clear();
    }
    cudaSetDevice(previous);
  }

  mutable std::mutex mutex_;
  std::unordered_map<std::pair<int, size_t>, std::vector<void*>, KeyHash> free_;
  AllocatorStats stats_;
};

}  // namespace

Allocator& allocator() {
  static auto* a = new CachingCudaAllocator();
  return *a;
}

}  // namespace dismax::cuda
