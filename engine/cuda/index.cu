// Gathers and scatters along one dim of a contiguous tensor seen as (outer, n, inner), and one-hot labels.
#include <cstdint>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

// Element e of a (outer, m, inner) tensor: (o, i, k).
struct Position {
  int64_t o, i, k;
};
__device__ Position position(int64_t e, int64_t m, int64_t inner) {
  const int64_t k = e % inner, t = e / inner;
  return {t / m, t % m, k};
}

// Copies whole elements as unsigned integers of their size, so every dtype goes through (as the CPU's memcpy).
template <class U>
__global__ void index_select_kernel(const U* x, const int64_t* index, int64_t n, int64_t m, int64_t inner,
                                    int64_t total, U* out) {
  DISMAX_GRID_STRIDE_LOOP(e, total) {
    const Position p = position(e, m, inner);
    out[e] = x[(p.o * n + index[p.i]) * inner + p.k];
  }
}

// Repeated indices add into one element from several threads: atomics (the order of those adds varies).
template <class T>
__global__ void index_add_kernel(T* out, const int64_t* index, int64_t n, int64_t m, int64_t inner, int64_t total,
                                 const T* src) {
  DISMAX_GRID_STRIDE_LOOP(e, total) {
    const Position p = position(e, m, inner);
    atomicAdd(out + (p.o * n + index[p.i]) * inner + p.k, src[e]);
  }
}

template <class T>
__global__ void one_hot_kernel(const int64_t* labels, int64_t N, int64_t C, T* out) {
  DISMAX_GRID_STRIDE_LOOP(i, N) out[i * C + labels[i]] = T(1);
}

}  // namespace

void index_select(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out) {
  DeviceGuard guard(out);
  const int64_t total = out.numel();
  if (total == 0) return;
  const DimSplit s(x.sizes(), dim);
  const int64_t m = index.numel();
  auto launch = [&](auto tag) {
    using U = typename decltype(tag)::type;
    index_select_kernel<U><<<blocks_for(total), kThreads, 0, stream()>>>(
        ptr<U>(x), ptr<int64_t>(index), s.n, m, s.inner, total, ptr<U>(out));
  };
  switch (x.itemsize()) {
    case 1: launch(TypeTag<uint8_t>{}); break;
    case 2: launch(TypeTag<uint16_t>{}); break;
    case 4: launch(TypeTag<uint32_t>{}); break;
    case 8: launch(TypeTag<uint64_t>{}); break;
    default: DISMAX_FAIL("index_select: unsupported dtype ", dtype_name(x.dtype()), " on cuda");
  }
  DISMAX_CUDA_CHECK_LAUNCH("index_select");
}

void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  DeviceGuard guard(out);
  dispatch_float(out.dtype(), "index_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t total = src.numel();
    if (total == 0) return;
    const DimSplit s(out.sizes(), dim);
    index_add_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(ptr<T>(out), ptr<int64_t>(index), s.n,
                                                                       index.numel(), s.inner, total, ptr<T>(src));
    DISMAX_CUDA_CHECK_LAUNCH("index_add");
  });
}

void one_hot(const Tensor& labels, Tensor& out) {
  DeviceGuard guard(out);
  dispatch_float(out.dtype(), "one_hot", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (out.numel() == 0) return;
    DISMAX_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, static_cast<size_t>(out.numel()) * sizeof(T), stream()));
    const int64_t N = labels.numel();
    if (N == 0) return;
    one_hot_kernel<T><<<blocks_for(N), kThreads, 0, stream()>>>(ptr<int64_t>(labels), N, out.size(1), ptr<T>(out));
    DISMAX_CUDA_CHECK_LAUNCH("one_hot");
  });
}

}  // namespace dismax::cuda
