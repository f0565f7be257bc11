// Helpers shared by the CUDA kernels: the device guard, dtype dispatch, launch shapes and
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
// Size-1 dims are dropped and mergeable neighbours fused, as the CPU's StridedLoop does. Index is the
// integer type of the arithmetic: 64-bit division and modulo cost many instructions per dim on a GPU, so
// launches whose elements and offsets fit (fits_int32) use the 32-bit form.
constexpr int kMaxDims = 10;
template <int K, class Index = int64_t>
struct StridedIndexer {
  int ndim = 0;
  Index sizes[kMaxDims];
  Index strides[kMaxDims][K];

  StridedIndexer() = default;
  StridedIndexer(const Shape& shape, const Shape* const (&operand_strides)[K]) {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      if (ndim > 0) {
        bool mergeable = true;
        for (int k = 0; k < K; ++k)
          mergeable &= static_cast<int64_t>(strides[ndim - 1][k]) == (*operand_strides[k])[d] * shape[d];
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

  // Whether n elements and every operand's largest offset fit the 32-bit form (with room for the
  // grid-stride loop's last increment).
  bool fits_int32(int64_t n) const {
    constexpr int64_t limit = int64_t{1} << 30;
    if (n > limit) return false;
    for (int k = 0; k < K; ++k) {
      int64_t extent = 0;
      for (int d = 0; d < ndim; ++d) {
        if (strides[d][k] < 0) return false;
        extent += (static_cast<int64_t>(sizes[d]) - 1) * static_cast<int64_t>(strides[d][k]);
      }
      if (extent > limit) return false;
    }
    return true;
  }
  StridedIndexer<K, int32_t> to_int32() const {
    StridedIndexer<K, int32_t> out;
    out.ndim = ndim;
    for (int d = 0; d < ndim; ++d) {
      out.sizes[d] = static_cast<int32_t>(sizes[d]);
      for (int k = 0; k < K; ++k) out.strides[d][k] = static_cast<int32_t>(strides[d][k]);
    }
    return out;
  }

  __device__ void offsets(Index linear, Index (&off)[K]) const {
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const Index i = linear % sizes[d];
      linear /= sizes[d];
      for (int k = 0; k < K; ++k) off[k] += i * strides[d][k];
    }
  }
};

// A grid-stride loop over [0, n) in the integer type Index.
#define DISMAX_GRID_STRIDE_LOOP_T(Index, i, n)                                                       \
  for (Index i = static_cast<Index>(blockIdx.x) * static_cast<Index>(blockDim.x) + static_cast<Index>(threadIdx.x); \
       i < (n); i += static_cast<Index>(blockDim.x) * static_cast<Index>(gridDim.x))

// Launches `launch(indexer)` with the 32-bit indexer when it fits, else the 64-bit one.
template <int K, class Launch>
void with_indexer(const StridedIndexer<K>& indexer, int64_t n, Launch&& launch) {
  if (indexer.fits_int32(n)) {
    launch(indexer.to_int32());
  } else {
    launch(indexer);
  }
}

// 16 bytes of T, loaded and stored as one 128-bit access (LDG.128 / STG.128) where the pointer is aligned.
template <class T>
struct alignas(16) Vec16 {
  static constexpr int kWidth = 16 / static_cast<int>(sizeof(T));
  T v[kWidth];
};
inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace dismax::cuda
