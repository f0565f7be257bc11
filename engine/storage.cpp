#include "engine/storage.h"

namespace dismax {

Storage::Storage(size_t nbytes, Device device)
    : ptr_(device_allocator(device).allocate(nbytes, device.index)), nbytes_(nbytes), device_(device) {}

Storage::Storage(size_t nbytes, Allocator& pinned_host_allocator)
    : ptr_(pinned_host_allocator.allocate(nbytes, 0)), nbytes_(nbytes), device_(Device::cpu()), pinned_(true) {}

}  // namespace dismax
