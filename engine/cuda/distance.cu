// Pairwise Euclidean distance from the differences themselves (see engine/cpu/distance.cpp for why), as
// shared-memory tiled kernels: a block computes a 32 x 32 tile of outputs, each thread 4 of them.
#include <cstdint>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

constexpr int kTile = 32;
constexpr int kRows = 8;                 // blockDim.y; blockDim.x is kTile
constexpr int kPerThread = kTile / kRows;  // outputs per thread, kRows rows apart

// The products are rounded on their own (no FMA) so that the gradients, summed in the CPU's order, match it
// bit for bit.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// A 1-D grid of tiles, row tiles outermost.
struct Tiles {
  int64_t rows, cols;
  Tiles(int64_t R, int64_t Cc) : rows((R + kTile - 1) / kTile), cols((Cc + kTile - 1) / kTile) {
    DISMAX_CHECK(rows * cols <= INT32_MAX, "cdist: ", R, " x ", Cc, " outputs are too many for the cuda kernel");
  }
  unsigned blocks() const { return static_cast<unsigned>(rows * cols); }
};

// d[i, j] = sqrt(sum_f (a[i, f] - b[j, f])^2); rows of a on threadIdx.y, rows of b on threadIdx.x.
template <class T>
__global__ void cdist_forward_kernel(const T* a, const T* b, int64_t B, int64_t C, int64_t F, int64_t col_tiles,
                                     T* d) {
  __shared__ T as[kTile][kTile + 1], bs[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i0 = blockIdx.x / col_tiles * kTile, j0 = blockIdx.x % col_tiles * kTile;
  T acc[kPerThread] = {};
  for (int64_t f0 = 0; f0 < F; f0 += kTile) {
    const int64_t f = f0 + tx;
    // Padding (rows past B or C, features past F) loads 0 in both tiles: its differences add nothing.
    for (int r = ty; r < kTile; r += kRows) {
      as[r][tx] = i0 + r < B && f < F ? a[(i0 + r) * F + f] : T(0);
      bs[r][tx] = j0 + r < C && f < F ? b[(j0 + r) * F + f] : T(0);
    }
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < kTile; ++k) {
      const T bv = bs[tx][k];
#pragma unroll
      for (int u = 0; u < kPerThread; ++u) {
        const T diff = as[ty + u * kRows][k] - bv;
        acc[u] += diff * diff;
      }
    }
    __syncthreads();
  }
  const int64_t j = j0 + tx;
#pragma unroll
  for (int u = 0; u < kPerThread; ++u) {
    const int64_t i = i0 + ty + u * kRows;
    if (i < B && j < C) d[i * C + j] = sqrt(acc[u]);
  }
}

// out[r, f] = sum over s, in order, of w(r, s) * (x[r, f] - y[s, f]), with w = grad_d / d (0 where d == 0).
// grad_a: x = a, y = b, w(r, s) at r * S + s. grad_b (kTransposed): x = b, y = a, w(r, s) at s * R + r.
// Rows of out on threadIdx.y, features on threadIdx.x.
template <class T, bool kTransposed>
__global__ void cdist_backward_kernel(const T* grad_d, const T* d, const T* x, const T* y, int64_t R, int64_t S,
                                      int64_t F, int64_t col_tiles, T* out) {
  __shared__ T ws[kTile][kTile + 1], ys[kTile][kTile + 1];  // ws[r][s], ys[s][f]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t r0 = blockIdx.x / col_tiles * kTile, f0 = blockIdx.x % col_tiles * kTile, f = f0 + tx;
  auto weight = [&](int64_t r, int64_t s) {
    if (r >= R || s >= S) return T(0);
    const int64_t k = kTransposed ? s * R + r : r * S + s;
    const T dist = d[k];
    return dist == T(0) ? T(0) : grad_d[k] / dist;
  };
  T xr[kPerThread], acc[kPerThread] = {};
#pragma unroll
  for (int u = 0; u < kPerThread; ++u) {
    const int64_t r = r0 + ty + u * kRows;
    xr[u] = r < R && f < F ? x[r * F + f] : T(0);
  }
  for (int64_t s0 = 0; s0 < S; s0 += kTile) {
    // The weight tile is read along the rows of the (B, C) matrices: s for grad_a, r for grad_b.
    for (int v = ty; v < kTile; v += kRows) {
      if (kTransposed) ws[tx][v] = weight(r0 + tx, s0 + v);
      else ws[v][tx] = weight(r0 + v, s0 + tx);
      ys[v][tx] = s0 + v < S && f < F ? y[(s0 + v) * F + f] : T(0);
    }
    __syncthreads();
    // Only real s: a padded weight of 0 times an infinite difference would add a NaN.
    const int n = static_cast<int>(S - s0 < kTile ? S - s0 : kTile);
    for (int k = 0; k < n; ++k) {
      const T yv = ys[k][tx];
#pragma unroll
      for (int u = 0; u < kPerThread; ++u) acc[u] += mul_rn(ws[ty + u * kRows][k], xr[u] - yv);
    }
    __syncthreads();
  }
#pragma unroll
  for (int u = 0; u < kPerThread; ++u) {
    const int64_t r = r0 + ty + u * kRows;
    if (r < R && f < F) out[r * F + f] = acc[u];
  }
}

}  // namespace

void cdist_forward(const Tensor& a, const Tensor& b, Tensor& d) {
  DeviceGuard guard(d);
  dispatch_float(a.dtype(), "cdist", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t B = a.size(0), C = b.size(0), F = a.size(1);
    if (d.numel() == 0) return;
    const Tiles tiles(B, C);
    cdist_forward_kernel<T><<<tiles.blocks(), dim3(kTile, kRows), 0, stream()>>>(ptr<T>(a), ptr<T>(b), B, C, F,
                                                                                  tiles.cols, ptr<T>(d));
    DISMAX_CUDA_CHECK_LAUNCH("cdist");
  });
}

void cdist_backward(const Tensor& grad_d, const Tensor& a, const Tensor& b, const Tensor& d, Tensor& grad_a,
                    Tensor& grad_b) {
  DeviceGuard guard(d);  // both outputs are optional
  dispatch_float(a.dtype(), "cdist_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t B = a.size(0), C = b.size(0), F = a.size(1);
    if (grad_a.defined() && grad_a.numel() > 0) {
      const Tiles tiles(B, F);
      cdist_backward_kernel<T, false><<<tiles.blocks(), dim3(kTile, kRows), 0, stream()>>>(
          ptr<T>(grad_d), ptr<T>(d), ptr<T>(a), ptr<T>(b), B, C, F, tiles.cols, ptr<T>(grad_a));
      DISMAX_CUDA_CHECK_LAUNCH("cdist_backward (a)");
    }
    if (grad_b.defined() && grad_b.numel() > 0) {
      const Tiles tiles(C, F);
      cdist_backward_kernel<T, true><<<tiles.blocks(), dim3(kTile, kRows), 0, stream()>>>(
          ptr<T>(grad_d), ptr<T>(d), ptr<T>(b), ptr<T>(a), C, B, F, tiles.cols, ptr<T>(grad_b));
      DISMAX_CUDA_CHECK_LAUNCH("cdist_backward (b)");
    }
  });
}

}  // namespace dismax::cuda
