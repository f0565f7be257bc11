// The CUDA backend's registration. A kernel slot left empty here reports "not supported on cuda:N"
// through the dispatch seam; nothing falls back to the CPU.
#include "engine/cuda/check.h"
#include "engine/kernels.h"

namespace dismax::cuda {

Allocator& allocator();

namespace {

void copy_between_devices(Tensor& dst, const Tensor& src) {
  DISMAX_CHECK(dst.is_contiguous() && src.is_contiguous() && dst.dtype() == src.dtype() && dst.numel() == src.numel(),
               "copy_between_devices: expects contiguous tensors of one dtype and size");
  const size_t nbytes = static_cast<size_t>(src.numel()) * src.itemsize();
  if (nbytes == 0) return;
  cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
  if (src.device().is_cpu()) kind = cudaMemcpyHostToDevice;
  else if (dst.device().is_cpu()) kind = cudaMemcpyDeviceToHost;
  DISMAX_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), nbytes, kind));
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

void synchronize(int index) {
  DISMAX_CUDA_CHECK(cudaSetDevice(index));
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
    out.kernels.copy_between_devices = &copy_between_devices;
    out.device_count = &device_count;
    out.synchronize = &synchronize;
    return out;
  }();
  return &b;
}

}  // namespace dismax::cuda
