// Device memory allocators. Each backend provides one; the CPU one caches freed blocks by size so the
// training loop, which asks for the same sizes every step, stops calling malloc after the first step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/device.h"

namespace dismax {

class Allocator;

// Owns one block; returns it to its allocator on destruction.
class DataPtr {
 public:
  DataPtr() = default;
  DataPtr(void* ptr, size_t nbytes, Allocator* owner, int device_index = 0)
      : ptr_(ptr), nbytes_(nbytes), owner_(owner), device_index_(device_index) {}
  DataPtr(DataPtr&& o) noexcept { swap(o); }
  DataPtr& operator=(DataPtr&& o) noexcept {
    DataPtr tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  DataPtr(const DataPtr&) = delete;
  DataPtr& operator=(const DataPtr&) = delete;
  ~DataPtr();
  void* get() const { return ptr_; }
  size_t nbytes() const { return nbytes_; }

 private:
  void swap(DataPtr& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(nbytes_, o.nbytes_);
    std::swap(owner_, o.owner_);
    std::swap(device_index_, o.device_index_);
  }
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
  Allocator* owner_ = nullptr;
  int device_index_ = 0;
};

struct AllocatorStats {
  size_t allocated_bytes = 0;  // handed out and not yet returned
  size_t cached_bytes = 0;     // returned and kept for reuse
  uint64_t system_allocations = 0;  // calls that reached the system allocator
  uint64_t requests = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual DataPtr allocate(size_t nbytes, int device_index) = 0;
  // Called by DataPtr's destructor, also while an exception unwinds: never throws, never needs memory.
  virtual void release(void* ptr, size_t nbytes, int device_index) noexcept = 0;
  virtual void empty_cache() {}
  virtual AllocatorStats stats() const { return {}; }
};

// The caching host allocator (64-byte aligned blocks, thread-safe).
Allocator& cpu_allocator();
// The allocator of `device`'s backend; throws when the device is not available. Defined with the backends
// (engine/backend.cpp), so that storage needs nothing of the kernel seam.
Allocator& device_allocator(Device device);

}  // namespace dismax
