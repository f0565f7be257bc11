#include "engine/storage.h"

#include "engine/kernels.h"

namespace dismax {

Storage::Storage(size_t nbytes, Device device)
    : ptr_(backend_for(device).allocator->allocate(nbytes, device.index)), nbytes_(nbytes), device_(device) {}

}  // namespace dismax
