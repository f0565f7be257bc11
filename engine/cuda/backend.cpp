// The CUDA backend's registration: the caching device allocator, pinned host memory, host <-> device
// copies and every kernel of engine/cuda. Nothing here falls back to the CPU.
#include <cstring>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"
#include "engine/cuda/cudnn_graph.h"
#include "engine/cuda/library_versions.h"

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
  } else {  // between two GPUs: wait for the source's producers, then copy on the destination's stream
    DISMAX_CUDA_CHECK(cudaStreamSynchronize(stream(src.device().index)));
    DISMAX_CUDA_CHECK(cudaMemcpyPeerAsync(dst.raw_data(), dst.device().index, src.raw_data(), src.device().index,
                                          nbytes, stream(dst.device().index)));
  }
}

namespace {

// Devices do not come and go while a process runs: counted once.
int device_count() {
  static const int count = [] {
    int n = 0;
    const cudaError_t status = cudaGetDeviceCount(&n);
    if (status != cudaSuccess) {
      forget_error(status);
      return 0;
    }
    return n;
  }();
  return count;
}

void synchronize(int index) {
  DISMAX_CUDA_CHECK(cudaStreamSynchronize(stream(index)));
}

}  // namespace

const Backend* backend(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // "CUDA driver version is insufficient" on machines without a GPU: that means no GPU, not an error.
    if (reason) *reason = std::string("no usable CUDA device (") + cudaGetErrorString(status) + ")";
    forget_error(status);
    return nullptr;
  }
  if (count == 0) {
    if (reason) *reason = "no CUDA device found";
    return nullptr;
  }
  if (const std::string mismatch = library_mismatch(loaded_library_versions()); !mismatch.empty()) {
    if (reason) *reason = mismatch;
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
    out.diagnostics = &recent_plan_report;
    return out;
  }();
  return &b;
}

}  // namespace dismax::cuda
