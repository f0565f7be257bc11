// A reference-counted block of device memory shared by a tensor and its views.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/allocator.h"
#include "engine/device.h"

namespace dismax {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  // Host memory from a device backend's pinned allocator.
  Storage(size_t nbytes, Allocator& pinned_host_allocator);
  bool pinned() const { return pinned_; }
  void* data() const { return ptr_.get(); }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // Bumped by every in-place write; autograd compares it with the value recorded when a tensor was saved.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  DataPtr ptr_;
  size_t nbytes_;
  Device device_;
  uint64_t version_ = 0;
  bool pinned_ = false;
};

}  // namespace dismax
