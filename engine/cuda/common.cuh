// Helpers shared by the CUDA kernels: the stream, the device guard, dtype dispatch, launch shapes and
// an indexer for strided / broadcast operands.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "engine/cuda/check.h"
#include "engine/kernel_support.h"
#include "engine/tensor.h"

namespace dismax::cuda {

// Every dismax kernel, cuBLAS and cuDNN call runs on the legacy default stream, so the synchronous host
// copies (cudaMemcpy) are ordered with the kernels without any explicit synchronisation.
inline cudaStream_t stream() { return 0; }

// Makes `index` the current device for its lifetime (restores the previous one).
class DeviceGuard {
 public:
  explicit DeviceGuard(int index) {
    DISMAX_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != index) DISMAX_CUDA_CHECK(cudaSetDevice(index));
  }
  explicit DeviceGuard(const Tensor& t) : DeviceGuard(t.device().index) {}
  ~DeviceGuard() {
    int now = previous_;
    cudaGetDevice(&now);
    if (now != previous_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// Checks the last kernel launch (bad configuration, no kernel image for this GPU, ...).
#define DISMAX_CUDA_CHECK_LAUNCH(name)                                                                    \
  do {                                                                                                    \
    const cudaError_t dismax_launch_ = cudaGetLastError();                                                \
    if (dismax_launch_ != cudaSuccess)                                                                    \
      DISMAX_FAIL("launch of ", name, " failed at ", __FILE__, ":", __LINE__, ": ", cudaGetErrorString(dismax_launch_)); \
  } while (0)

template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, F&& fn) {
  return dismax::dispatch_float(dtype, op, "cuda", std::forward<F>(fn));
}
template <class F>
decltype(auto) dispatch_all(DType dtype, const char* op, F&& fn) {
  return dismax::dispatch_all(dtype, op, "cuda", std::forward<F>(fn));
}

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped: the loop covers the rest).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, int64_t{1} << 20));
}

#define DISMAX_GRID_STRIDE_LOOP(i, n)                                                              \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);           \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

template <class T> inline T* ptr(const Tensor& t) { return static_cast<T*>(t.raw_data()); }

// Element offsets of up to K operands that share a shape, from the linear (row-major) index of an element.
// Size-1 dims are dropped and mergeable neighbours fused, as the CPU's StridedLoop does.
constexpr int kMaxDims = 10;
template <int K>
struct StridedIndexer {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims][K];

  StridedIndexer(const Shape& shape, const Shape* const (&operand_strides)[K]) {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      if (ndim > 0) {
        bool mergeable = true;
        for (int k = 0; k < K; ++k) mergeable &= strides[ndim - 1][k] == (*operand_strides[k])[d] * shape[d];
        if (mergeable) {
          sizes[ndim - 1] *= shape[d];
          for (int k = 0; k < K; ++k) strides[ndim - 1][k] = (*operand_strides[k])[d];
          continue;
        }
      }
      DISMAX_CHECK(ndim < kMaxDims, "cuda: tensors with more than ", kMaxDims, " non-mergeable dims are not supported");
      sizes[ndim] = shape[d];
      for (int k = 0; k < K; ++k) strides[ndim][k] = (*operand_strides[k])[d];
      ++ndim;
    }
  }

  __device__ void offsets(int64_t linear, int64_t (&off)[K]) const {
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t i = linear % sizes[d];
      linear /= sizes[d];
      for (int k = 0; k < K; ++k) off[k] += i * strides[d][k];
    }
  }
};

}  // namespace dismax::cuda
