// The CUDA backend's registration: the caching device allocator, pinned host memory, host <-> device
// copies and every kernel of engine/cuda. Nothing here falls back to the CPU.
#include <cstring>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

Allocator& allocator();
Allocator& pinned_host_allocator();

// Host -> device copies are asynchronous: ordered on stream() before every later kernel, from pinned memory
// that is not reused before the copy ends. Device -> host copies wait for the data, since the
// caller reads it next.
void copy_between_devices(Tensor& dst, const Tensor& src) {
  DISMAX_CHECK(dst.is_contiguous() && src.is_contiguous() && dst.dtype() == src.dtype() && dst.numel() == src.numel(),
               "copy_between_devices: expects contiguous tensors of one dtype and size, got ", dst.describe(),
               " and ", src.describe());
  const size_t nbytes = static_cast<size_t>(src.numel()) * src.itemsize();
  if (nbytes == 0) return;
  DeviceGuard guard(dst.device().is_cuda() ? dst.device().index : src.device().index);
  if (src.device().is_cpu()) {
    if (src.is_pinned()) {
      DISMAX_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), nbytes, cudaMemcpyHostToDevice, stream()));
    } else {
      // A copy from pageable memory would wait for the whole stream first; staging through a pinned block
      // (reused only after this copy ends) keeps small uploads (indices, targets) asynchronous too.
      DataPtr staging = pinned_host_allocator().allocate(nbytes, 0);
      std::memcpy(staging.get(), src.raw_data(), nbytes);
      DISMAX_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), staging.get(), nbytes, cudaMemcpyHostToDevice, stream()));
    }
  } else if (dst.device().is_cpu()) {
    DISMAX_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), nbytes, cudaMemcpyDeviceToHost, stream()));
    DISMAX_CUDA_CHECK(cudaStreamSynchronize(stream()));
  } else if (src.device().index == dst.device().index) {
    DISMAX_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), nbytes, cudaMemcpyDeviceToDevice, stream()));
  } else {  // between two GPUs: wait for the source's producers, then copy peer to peer
    DISMAX_CUDA_CHECK(cudaSetDevice(src.device().index));
    DISMAX_CUDA_CHECK(cudaDeviceSynchronize());
    DISMAX_CUDA_CHECK(cudaSetDevice(dst.device().index));
    DISMAX_CUDA_CHECK(cudaMemcpyPeer(dst.raw_data(), dst.device().index, src.raw_data(), src.device().index, nbytes));
  }
}

namespace {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

void synchronize(int index) {
  DeviceGuard guard(index);
  DISMAX_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace

const Backend* backend(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // "CUDA driver version is insufficient" on machines without a GPU: that means no GPU, not an error.
    if (reason) *reason = std::string("no usable CUDA device (") + cudaGetErrorString(status) + ")";
    (void)cudaGetLastError();
    return nullptr;
  }
  if (count == 0) {
    if (reason) *reason = "no CUDA device found";
    return nullptr;
  }
  static const Backend b = [] {
    Backend out;
    out.name = "cuda";
    out.allocator = &allocator();
    out.pinned_host_allocator = &pinned_host_allocator();
#define DISMAX_FILL_CUDA_SLOT(name, signature) out.kernels.name = &cuda::name;
    DISMAX_KERNEL_LIST(DISMAX_FILL_CUDA_SLOT)
#undef DISMAX_FILL_CUDA_SLOT
    out.device_count = &device_count;
    out.synchronize = &synchronize;
    return out;
  }();
  return &b;
}

}  // namespace dismax::cuda
