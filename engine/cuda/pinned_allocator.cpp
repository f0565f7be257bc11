// Page-locked host memory for asynchronous host-to-device copies. A released block may still be the
// source of a copy in flight, so it is reused only once an event recorded at its release has completed.
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/allocator.h"
#include "engine/cuda/common.cuh"

namespace dismax::cuda {

namespace {

// The copies that read pinned blocks run on the stream of the device current while they are issued (the
// destination's); a block is released while that device is still current. Never throws.
cudaError_t record_on_current_stream(cudaEvent_t event) {
  try {
    return cudaEventRecord(event, stream());
  } catch (const Error&) {
    return cudaErrorUnknown;
  }
}

class PinnedHostAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes, int) override {
    const size_t size = std::max<size_t>(4096, (nbytes + 4095) & ~size_t{4095});
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.requests;
      auto& blocks = free_[size];
      for (size_t i = 0; i < blocks.size(); ++i) {
        if (blocks[i].released != nullptr) {
          const cudaError_t query = cudaEventQuery(blocks[i].released);
          if (query != cudaSuccess) {
            forget_error(query);  // cudaErrorNotReady: the copy is still in flight
            continue;
          }
        }
        void* p = blocks[i].ptr;
        if (blocks[i].released != nullptr) spare_events_.push_back(blocks[i].released);
        blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(i));
        stats_.cached_bytes -= size;
        stats_.allocated_bytes += size;
        return DataPtr(p, size, this, 0);
      }
      ++stats_.system_allocations;
      stats_.allocated_bytes += size;
    }
    void* p = nullptr;
    const cudaError_t status = cudaHostAlloc(&p, size, cudaHostAllocPortable);
    if (status != cudaSuccess) {
      forget_error(status);
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.allocated_bytes -= size;
      DISMAX_FAIL("cudaHostAlloc of ", size, " bytes of pinned host memory failed: ", cudaGetErrorString(status));
    }
    return DataPtr(p, size, this, 0);
  }

  // Called from destructors: never throws. Without an event (creation or recording failed) it waits for
  // the device instead, and the block (event null) is free at once.
  void release(void* ptr, size_t nbytes, int) noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    cudaEvent_t event = nullptr;
    cudaError_t status = cudaSuccess;
    if (!spare_events_.empty()) {
      event = spare_events_.back();
      spare_events_.pop_back();
    } else if ((status = cudaEventCreateWithFlags(&event, cudaEventDisableTiming)) != cudaSuccess) {
      forget_error(status);
      event = nullptr;
    }
    if (event != nullptr && (status = record_on_current_stream(event)) != cudaSuccess) forget_error(status);
    if (event == nullptr || status != cudaSuccess) {
      cudaDeviceSynchronize();
      if (event != nullptr) cudaEventDestroy(event);  // (keeping it as a spare could need memory)
      event = nullptr;
    }
    stats_.allocated_bytes -= nbytes;
    try {
      free_[nbytes].push_back({ptr, event});
      stats_.cached_bytes += nbytes;
    } catch (...) {  // no memory to keep the block: wait for its copies and free it
      cudaDeviceSynchronize();
      cudaFreeHost(ptr);
      if (event != nullptr) cudaEventDestroy(event);
    }
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_) {
      for (const Block& b : blocks) {
        if (b.released != nullptr) {
          cudaEventSynchronize(b.released);
          cudaEventDestroy(b.released);
        }
        cudaFreeHost(b.ptr);
        stats_.cached_bytes -= size;
      }
      blocks.clear();
    }
  }

  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  struct Block {
    void* ptr;
    cudaEvent_t released;
  };
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<Block>> free_;
  std::vector<cudaEvent_t> spare_events_;
  AllocatorStats stats_;
};

}  // namespace

Allocator& pinned_host_allocator() {
  static auto* a = new PinnedHostAllocator();
  return *a;
}

}  // namespace dismax::cuda
