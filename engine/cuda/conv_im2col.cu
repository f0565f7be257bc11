#include "engine/cuda/conv_im2col.h"

#include "engine/cuda/common.cuh"

namespace dismax::cuda {

namespace {

// One thread per element of col: row (c, r, s), column (p, q).
template <class T>
__global__ void im2col_kernel(const T* __restrict__ image, ConvGeometry g, T* __restrict__ col) {
  const int64_t columns = g.P * g.Q, n = g.C * g.R * g.S * columns;
  DISMAX_GRID_STRIDE_LOOP(i, n) {
    const int64_t row = i / columns, column = i % columns;
    const int64_t c = row / (g.R * g.S), r = row / g.S % g.R, s = row % g.S;
    const int64_t p = column / g.Q, q = column % g.Q;
    const int64_t y = p * g.args.stride_h - g.args.pad_h + r, x = q * g.args.stride_w - g.args.pad_w + s;
    col[i] = (y >= 0 && y < g.H && x >= 0 && x < g.W) ? image[(c * g.H + y) * g.W + x] : T(0);
  }
}

// One thread per input pixel (c, y, x): gathers the col entries (row (c, r, s), column (p, q)) with
// p * stride - pad + r == y and q * stride - pad + s == x, so no two threads write one pixel.
template <class T>
__global__ void col2im_kernel(const T* __restrict__ col, ConvGeometry g, T* __restrict__ image) {
  const int64_t n = g.C * g.H * g.W, columns = g.P * g.Q;
  DISMAX_GRID_STRIDE_LOOP(i, n) {
    const int64_t c = i / (g.H * g.W), y = i / g.W % g.H, x = i % g.W;
    T sum = T(0);
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t ty = y + g.args.pad_h - r;
      if (ty < 0 || ty % g.args.stride_h != 0) continue;
      const int64_t p = ty / g.args.stride_h;
      if (p >= g.P) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t tx = x + g.args.pad_w - s;
        if (tx < 0 || tx % g.args.stride_w != 0) continue;
        const int64_t q = tx / g.args.stride_w;
        if (q >= g.Q) continue;
        sum += col[((c * g.R + r) * g.S + s) * columns + p * g.Q + q];
      }
    }
    image[i] = sum;
  }
}

}  // namespace

void im2col(const Tensor& x, int64_t n, const ConvGeometry& g, Tensor& col) {
  DeviceGuard guard(x);
  const int64_t count = g.C * g.R * g.S * g.P * g.Q;
  if (count == 0) return;
  dispatch_float(x.dtype(), "im2col", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* image = ptr<const T>(x) + n * g.C * g.H * g.W;
    im2col_kernel<T><<<blocks_for(count), kThreads, 0, stream()>>>(image, g, ptr<T>(col));
    DISMAX_CUDA_CHECK_LAUNCH("im2col");
  });
}

void col2im(const Tensor& col, const ConvGeometry& g, int64_t n, Tensor& grad_x) {
  DeviceGuard guard(grad_x);
  const int64_t count = g.C * g.H * g.W;
  if (count == 0) return;
  dispatch_float(grad_x.dtype(), "col2im", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* image = ptr<T>(grad_x) + n * count;
    col2im_kernel<T><<<blocks_for(count), kThreads, 0, stream()>>>(ptr<const T>(col), g, image);
    DISMAX_CUDA_CHECK_LAUNCH("col2im");
  });
}

}  // namespace dismax::cuda
