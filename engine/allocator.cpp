#include "engine/allocator.h"

#include "engine/error.h"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace dismax {

DataPtr::~DataPtr() {
  if (ptr_ != nullptr && owner_ != nullptr) owner_->release(ptr_, nbytes_, device_index_);
}

namespace {

// Rounds a request up to a size class: 64-byte steps below 4 KiB, then eight classes per power of two,
// so a cached block is never more than 12.5% larger than the request that reuses it.
size_t size_class(size_t nbytes) {
  if (nbytes <= 4096) return std::max<size_t>(64, (nbytes + 63) & ~size_t{63});
  size_t power = 4096;
  while (power * 2 < nbytes) power *= 2;
  const size_t step = power / 8;
  return (nbytes + step - 1) / step * step;
}

constexpr size_t kHugeThreshold = size_t{4} << 20;
constexpr size_t kHugeAlign = size_t{2} << 20;

class CachingCpuAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes, int) override {
    const size_t size = size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.requests;
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= size;
        stats_.allocated_bytes += size;
        return DataPtr(p, size, this);
      }
      ++stats_.system_allocations;
      stats_.allocated_bytes += size;
    }
    const size_t align = size >= kHugeThreshold ? kHugeAlign : 64;
    void* p = std::aligned_alloc(align, (size + align - 1) / align * align);
    if (p == nullptr) {
      empty_cache();
      p = std::aligned_alloc(align, (size + align - 1) / align * align);
    }
    if (p == nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.allocated_bytes -= size;
      DISMAX_FAIL("out of memory: could not allocate ", size, " bytes of host memory (", stats_.allocated_bytes,
                  " bytes already in use by tensors)");
    }
#ifdef MADV_HUGEPAGE
    if (size >= kHugeThreshold) madvise(p, size, MADV_HUGEPAGE);
#endif
    return DataPtr(p, size, this);
  }

  // Called from destructors, also while an exception unwinds: must not throw. Keeping the block needs a
  // map node or a larger vector; when even that allocation fails, the block goes back to the system.
  void release(void* ptr, size_t nbytes, int) noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.allocated_bytes -= nbytes;
    try {
      free_[nbytes].push_back(ptr);
      stats_.cached_bytes += nbytes;
    } catch (...) {
      std::free(ptr);
    }
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

}  // namespace

Allocator& cpu_allocator() {
  // Never destroyed: tensors held in static objects may be released after main returns.
  static auto* allocator = new CachingCpuAllocator();
  return *allocator;
}

}  // namespace dismax
