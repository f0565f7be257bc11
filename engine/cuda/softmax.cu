// Softmax, log-softmax and their backward over one dim of a contiguous tensor seen as [outer, n, inner],
// mirroring engine/cpu/softmax.cpp. inner == 1: a warp (short rows) or a block (long rows) per row;
// inner > 1: a thread per (outer, inner) column, walking n with stride inner exactly as the CPU does.
#include <limits>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int64_t kBlockRowMin = 1024;  // rows at least this long get a block, shorter ones a warp

// std::max(a, b) as the CPU uses it: a NaN in b is skipped.
struct MaxOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a < b ? b : a; }
};
struct AddOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};

template <class T>
__device__ T lowest() {
  return -std::numeric_limits<T>::infinity();
}

// The threads that share one row: a warp, or the whole block (a multiple of 32 threads).
template <bool kBlock>
struct RowGroup {
  __device__ int64_t first_row() const {
    return kBlock ? blockIdx.x : int64_t{blockIdx.x} * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  }
  __device__ int64_t row_stride() const { return kBlock ? gridDim.x : int64_t{gridDim.x} * (blockDim.x / kWarp); }
  __device__ int rank() const { return kBlock ? threadIdx.x : threadIdx.x % kWarp; }
  __device__ int size() const { return kBlock ? blockDim.x : kWarp; }

  // Every thread of the group gets the same bits: the butterfly is symmetric and every warp folds the
  // per-warp results in the same order.
  template <class T, class Op>
  __device__ T all_reduce(T v, Op op) const {
    for (int mask = kWarp / 2; mask > 0; mask /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, mask));
    if constexpr (kBlock) {
      __shared__ T partial[kWarp];
      if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = v;
      __syncthreads();
      v = partial[0];
      for (unsigned w = 1; w < blockDim.x / kWarp; ++w) v = op(v, partial[w]);
      __syncthreads();  // `partial` is reused by the next call
    }
    return v;
  }
};

template <class T, bool kBlock>
__global__ void softmax_rows_kernel(const T* x, T* y, int64_t rows, int64_t n, bool log) {
  const RowGroup<kBlock> g;
  for (int64_t row = g.first_row(); row < rows; row += g.row_stride()) {
    const T* xr = x + row * n;
    T* yr = y + row * n;
    T m = lowest<T>();
    for (int64_t k = g.rank(); k < n; k += g.size()) m = MaxOp()(m, xr[k]);
    m = g.all_reduce(m, MaxOp());
    if (m == lowest<T>()) m = 0;  // all -inf: keep the arithmetic finite (the result is NaN like PyTorch)
    T total = 0;
    for (int64_t k = g.rank(); k < n; k += g.size()) total += ::exp(xr[k] - m);
    total = g.all_reduce(total, AddOp());
    if (log) {
      const T lse = m + ::log(total);
      for (int64_t k = g.rank(); k < n; k += g.size()) yr[k] = xr[k] - lse;
    } else {
      const T inv = T(1) / total;
      for (int64_t k = g.rank(); k < n; k += g.size()) yr[k] = ::exp(xr[k] - m) * inv;
    }
  }
}

template <class T>
__global__ void softmax_columns_kernel(const T* x, T* y, int64_t columns, int64_t n, int64_t inner, bool log) {
  DISMAX_GRID_STRIDE_LOOP(j, columns) {
    const int64_t base = j / inner * n * inner + j % inner;
    const T* xr = x + base;
    T* yr = y + base;
    T m = lowest<T>();
    for (int64_t k = 0; k < n; ++k) m = MaxOp()(m, xr[k * inner]);
    if (m == lowest<T>()) m = 0;
    T total = 0;
    for (int64_t k = 0; k < n; ++k) total += ::exp(xr[k * inner] - m);
    if (log) {
      const T lse = m + ::log(total);
      for (int64_t k = 0; k < n; ++k) yr[k * inner] = xr[k * inner] - lse;
    } else {
      const T inv = T(1) / total;
      for (int64_t k = 0; k < n; ++k) yr[k * inner] = ::exp(xr[k * inner] - m) * inv;
    }
  }
}

// log: gx = g - exp(y) * sum(g); otherwise gx = y * (g - sum(g * y)).
template <class T>
__device__ T backward_term(const T* g, const T* y, int64_t k, bool log) {
  return log ? g[k] : g[k] * y[k];
}
template <class T>
__device__ T backward_value(const T* g, const T* y, int64_t k, T dot, bool log) {
  return log ? g[k] - ::exp(y[k]) * dot : y[k] * (g[k] - dot);
}

template <class T, bool kBlock>
__global__ void softmax_backward_rows_kernel(const T* gy, const T* y, T* gx, int64_t rows, int64_t n, bool log) {
  const RowGroup<kBlock> g;
  for (int64_t row = g.first_row(); row < rows; row += g.row_stride()) {
    const T* gr = gy + row * n;
    const T* yr = y + row * n;
    T dot = 0;
    for (int64_t k = g.rank(); k < n; k += g.size()) dot += backward_term(gr, yr, k, log);
    dot = g.all_reduce(dot, AddOp());
    for (int64_t k = g.rank(); k < n; k += g.size()) gx[row * n + k] = backward_value(gr, yr, k, dot, log);
  }
}

template <class T>
__global__ void softmax_backward_columns_kernel(const T* gy, const T* y, T* gx, int64_t columns, int64_t n,
                                                int64_t inner, bool log) {
  DISMAX_GRID_STRIDE_LOOP(j, columns) {
    const int64_t base = j / inner * n * inner + j % inner;
    T dot = 0;
    for (int64_t k = 0; k < n; ++k) dot += backward_term(gy + base, y + base, k * inner, log);
    for (int64_t k = 0; k < n; ++k) gx[base + k * inner] = backward_value(gy + base, y + base, k * inner, dot, log);
  }
}

template <class T>
void softmax_typed(const Tensor& x, int64_t dim, bool log, Tensor& out) {
  if (x.numel() == 0) return;
  const DimSplit s(x.sizes(), dim);
  const T* px = ptr<const T>(x);
  T* py = ptr<T>(out);
  if (s.inner > 1) {
    const int64_t columns = s.outer * s.inner;
    softmax_columns_kernel<T><<<blocks_for(columns), kThreads, 0, stream()>>>(px, py, columns, s.n, s.inner, log);
  } else if (s.n >= kBlockRowMin) {
    softmax_rows_kernel<T, true><<<blocks_for(s.outer, 1), kThreads, 0, stream()>>>(px, py, s.outer, s.n, log);
  } else {
    softmax_rows_kernel<T, false>
        <<<blocks_for(s.outer, kThreads / kWarp), kThreads, 0, stream()>>>(px, py, s.outer, s.n, log);
  }
  DISMAX_CUDA_CHECK_LAUNCH("softmax");
}

template <class T>
void softmax_backward_typed(const Tensor& gy, const Tensor& y, int64_t dim, bool log, Tensor& gx) {
  if (y.numel() == 0) return;
  const DimSplit s(y.sizes(), dim);
  const T* pg = ptr<const T>(gy);
  const T* py = ptr<const T>(y);
  T* px = ptr<T>(gx);
  if (s.inner > 1) {
    const int64_t columns = s.outer * s.inner;
    softmax_backward_columns_kernel<T>
        <<<blocks_for(columns), kThreads, 0, stream()>>>(pg, py, px, columns, s.n, s.inner, log);
  } else if (s.n >= kBlockRowMin) {
    softmax_backward_rows_kernel<T, true>
        <<<blocks_for(s.outer, 1), kThreads, 0, stream()>>>(pg, py, px, s.outer, s.n, log);
  } else {
    softmax_backward_rows_kernel<T, false>
        <<<blocks_for(s.outer, kThreads / kWarp), kThreads, 0, stream()>>>(pg, py, px, s.outer, s.n, log);
  }
  DISMAX_CUDA_CHECK_LAUNCH("softmax_backward");
}

}  // namespace

void softmax(const Tensor& x, int64_t dim, bool log, Tensor& out) {
  DeviceGuard guard(out);
  dispatch_float(x.dtype(), "softmax",
                 [&](auto tag) { softmax_typed<typename decltype(tag)::type>(x, dim, log, out); });
}

void softmax_backward(const Tensor& grad_out, const Tensor& out, int64_t dim, bool log, Tensor& grad_in) {
  DeviceGuard guard(grad_in);
  dispatch_float(out.dtype(), "softmax_backward", [&](auto tag) {
    softmax_backward_typed<typename decltype(tag)::type>(grad_out, out, dim, log, grad_in);
  });
}

}  // namespace dismax::cuda
