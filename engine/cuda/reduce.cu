// Reductions over one dim of a contiguous tensor seen as [outer, n, inner], mirroring engine/cpu/reduce.cpp.
// A reducer (identity / load / combine / store) plugs into three launch shapes: a warp or a block per row
// when inner == 1, and tiles of 32 adjacent columns split over n when inner > 1.
#include <algorithm>
#include <limits>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int64_t kBlockRowMin = 1024;  // rows at least this long get a block, shorter ones a warp
constexpr int kColumnWidth = 32;
constexpr int kMaxColumnSplit = 16;     // threads that share one column's n
// Fewer rows than kSplitMaxRows, each longer than kSplitChunk: chunks of a row go to separate blocks.
constexpr int64_t kSplitMaxRows = 64, kSplitChunk = 8192, kMaxChunks = 1024;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

enum class Combine { Add, Max, Min };

// Sum, Max or Min of the values; the sum is multiplied by `scale` (1/n for Mean, as on the CPU).
template <class T, Combine C>
struct ValueReducer {
  using Acc = T;
  const T* x;
  T* y;
  T init;
  T scale;

  __device__ Acc identity() const { return init; }
  __device__ Acc load(int64_t offset, int64_t) const { return x[offset]; }
  __device__ Acc combine(Acc a, Acc b) const {
    if constexpr (C == Combine::Add) return a + b;
    else if constexpr (C == Combine::Max) return (b > a || b != b) ? b : a;  // NaN propagates
    else return (b < a || b != b) ? b : a;
  }
  __device__ void store(int64_t j, Acc a) const { y[j] = C == Combine::Add ? a * scale : a; }
};

template <class T>
struct ArgMax {
  T value;
  int64_t index;
};

// The CPU scans in order and keeps the first NaN, else the first maximum. As a combine over (value, index)
// pairs that is a total order, so any reduction tree gives the same pair.
template <class T>
struct ArgMaxReducer {
  using Acc = ArgMax<T>;
  const T* x;
  T* values;
  int64_t* indices;

  __device__ Acc identity() const { return {-std::numeric_limits<T>::infinity(), INT64_MAX}; }
  __device__ Acc load(int64_t offset, int64_t k) const { return {x[offset], k}; }
  __device__ Acc combine(Acc a, Acc b) const {
    const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
    return a.index < b.index ? a : b;
  }
  __device__ void store(int64_t j, Acc a) const {
    values[j] = a.value;
    indices[j] = a.index;
  }
};

template <class T>
__device__ T shfl_down(T v, int delta) {
  return __shfl_down_sync(0xffffffffu, v, delta);
}
template <class T>
__device__ ArgMax<T> shfl_down(ArgMax<T> v, int delta) {
  return {shfl_down(v.value, delta), shfl_down(v.index, delta)};
}

// The whole warp must call it; the result is complete in lane 0.
template <class R>
__device__ typename R::Acc warp_reduce(const R& r, typename R::Acc acc) {
  for (int delta = kWarp / 2; delta > 0; delta /= 2) acc = r.combine(acc, shfl_down(acc, delta));
  return acc;
}

// The whole block (a multiple of 32 threads) must call it; the result is complete in thread 0.
template <class R>
__device__ typename R::Acc block_reduce(const R& r, typename R::Acc acc) {
  __shared__ typename R::Acc partial[kWarp];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  acc = warp_reduce(r, acc);
  if (lane == 0) partial[warp] = acc;
  __syncthreads();
  if (warp == 0) acc = warp_reduce(r, lane < warps ? partial[lane] : r.identity());
  __syncthreads();  // `partial` is reused by the next call
  return acc;
}

// inner == 1, one block per segment: segment s covers [c * chunk, min(n, (c + 1) * chunk)) of row s / chunks,
// with c = s % chunks, and its result goes to output s.
template <class R>
__global__ void reduce_segments_kernel(R r, int64_t segments, int64_t n, int64_t chunks, int64_t chunk) {
  for (int64_t s = blockIdx.x; s < segments; s += gridDim.x) {
    const int64_t row = s / chunks, begin = s % chunks * chunk, end = begin + chunk < n ? begin + chunk : n;
    typename R::Acc acc = r.identity();
    for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) acc = r.combine(acc, r.load(row * n + k, k));
    acc = block_reduce(r, acc);
    if (threadIdx.x == 0) r.store(s, acc);
  }
}

// inner == 1, one warp per row.
template <class R>
__global__ void reduce_rows_warp_kernel(R r, int64_t rows, int64_t n) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps_per_block = blockDim.x / kWarp;
  for (int64_t row = blockIdx.x * warps_per_block + threadIdx.x / kWarp; row < rows;
       row += gridDim.x * warps_per_block) {
    typename R::Acc acc = r.identity();
    for (int64_t k = lane; k < n; k += kWarp) acc = r.combine(acc, r.load(row * n + k, k));
    acc = warp_reduce(r, acc);
    if (lane == 0) r.store(row, acc);
  }
}

// inner > 1: a block takes 32 adjacent columns of one outer slice (coalesced loads along x) and splits each
// column's n elements over its blockDim.y rows of threads.
template <class R>
__global__ void reduce_columns_kernel(R r, int64_t outer, int64_t n, int64_t inner) {
  __shared__ typename R::Acc partial[kMaxColumnSplit][kColumnWidth];
  const int64_t tiles_per_slice = (inner + kColumnWidth - 1) / kColumnWidth;
  for (int64_t t = blockIdx.x; t < outer * tiles_per_slice; t += gridDim.x) {
    const int64_t o = t / tiles_per_slice, i = t % tiles_per_slice * kColumnWidth + threadIdx.x;
    typename R::Acc acc = r.identity();
    if (i < inner)
      for (int64_t k = threadIdx.y; k < n; k += blockDim.y) acc = r.combine(acc, r.load((o * n + k) * inner + i, k));
    partial[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && i < inner) {
      for (unsigned y = 1; y < blockDim.y; ++y) acc = r.combine(acc, partial[y][threadIdx.x]);
      r.store(o * inner + i, acc);
    }
    __syncthreads();
  }
}

template <class R>
void launch_segments(const R& r, int64_t segments, int64_t n, int64_t chunks, int64_t chunk, const char* name) {
  reduce_segments_kernel<<<blocks_for(segments, 1), kThreads, 0, stream()>>>(r, segments, n, chunks, chunk);
  DISMAX_CUDA_CHECK_LAUNCH(name);
}

template <class R>
void launch_rows(const R& r, int64_t rows, int64_t n, const char* name) {
  if (n >= kBlockRowMin) return launch_segments(r, rows, n, 1, n, name);
  reduce_rows_warp_kernel<<<blocks_for(rows, kThreads / kWarp), kThreads, 0, stream()>>>(r, rows, n);
  DISMAX_CUDA_CHECK_LAUNCH(name);
}

template <class R>
void launch_columns(const R& r, const DimSplit& s, const char* name) {
  const int64_t tiles = s.outer * ceil_div(s.inner, kColumnWidth);
  const dim3 block(kColumnWidth, static_cast<unsigned>(std::clamp<int64_t>(s.n, 1, kMaxColumnSplit)));
  reduce_columns_kernel<<<blocks_for(tiles, 1), block, 0, stream()>>>(r, s.outer, s.n, s.inner);
  DISMAX_CUDA_CHECK_LAUNCH(name);
}

template <class T, Combine C>
void reduce_launch(const Tensor& x, const DimSplit& s, Tensor& out, T init, T scale) {
  const ValueReducer<T, C> r{ptr<const T>(x), ptr<T>(out), init, scale};
  if (s.inner > 1) return launch_columns(r, s, "reduce");
  const int64_t chunks = s.outer < kSplitMaxRows ? std::min(ceil_div(s.n, kSplitChunk), kMaxChunks) : 1;
  if (chunks <= 1) return launch_rows(r, s.outer, s.n, "reduce");
  // Few long rows: each block reduces a chunk of a row, then one more pass reduces each row's chunks.
  Tensor partial = Tensor::empty({s.outer, chunks}, TensorOptions(x.dtype()).device(x.device()));
  const ValueReducer<T, C> first{ptr<const T>(x), ptr<T>(partial), init, T(1)};
  launch_segments(first, s.outer * chunks, s.n, chunks, ceil_div(s.n, chunks), "reduce");
  launch_rows(ValueReducer<T, C>{ptr<const T>(partial), ptr<T>(out), init, scale}, s.outer, chunks, "reduce");
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, int64_t dim, Tensor& out) {
  const DimSplit s(x.sizes(), dim);
  if (s.outer * s.inner == 0) return;
  constexpr T inf = std::numeric_limits<T>::infinity();
  switch (op) {
    case ReduceOp::Sum: return reduce_launch<T, Combine::Add>(x, s, out, T(0), T(1));
    case ReduceOp::Mean:
      if (s.n == 0) return fill(out, std::numeric_limits<double>::quiet_NaN());
      return reduce_launch<T, Combine::Add>(x, s, out, T(0), T(1) / static_cast<T>(s.n));
    case ReduceOp::Max: return reduce_launch<T, Combine::Max>(x, s, out, -inf, T(1));
    case ReduceOp::Min: return reduce_launch<T, Combine::Min>(x, s, out, inf, T(1));
  }
}

template <class T>
void max_dim_typed(const Tensor& x, int64_t dim, Tensor& values, Tensor& indices) {
  const DimSplit s(x.sizes(), dim);
  DISMAX_CHECK(s.n > 0, "max: cannot reduce over an empty dimension of ", x.describe());
  if (s.outer * s.inner == 0) return;
  const ArgMaxReducer<T> r{ptr<const T>(x), ptr<T>(values), ptr<int64_t>(indices)};
  if (s.inner > 1) return launch_columns(r, s, "max");
  launch_rows(r, s.outer, s.n, "max");
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, int64_t dim, Tensor& out) {
  DeviceGuard guard(out);
  dispatch_float(x.dtype(), "reduce", [&](auto tag) { reduce_typed<typename decltype(tag)::type>(op, x, dim, out); });
}

void max_dim(const Tensor& x, int64_t dim, Tensor& values, Tensor& indices) {
  DeviceGuard guard(values);
  dispatch_float(x.dtype(), "max", [&](auto tag) {
    max_dim_typed<typename decltype(tag)::type>(x, dim, values, indices);
  });
}

}  // namespace dismax::cuda
