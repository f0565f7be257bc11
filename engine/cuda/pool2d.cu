// 2-D max and average pooling over (N, C, H, W), one thread per output element. The backward passes are
// gathers (one thread per input element adds the gradients of the windows that cover it, in the CPU's
// order), so they need no atomics and match the CPU's scatter bit for bit.
#include <cstdint>
#include <limits>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

struct PoolShape {
  int64_t planes, H, W, P, Q;
};
PoolShape pool_shape(const Tensor& x, const Tensor& y) {
  return {x.size(0) * x.size(1), x.size(2), x.size(3), y.size(2), y.size(3)};
}

__host__ __device__ inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// The output positions [begin, end) along one axis whose window [p * stride - pad, p * stride - pad + kernel)
// contains input position h.
struct Cover {
  int64_t begin, end;
};
__device__ Cover covering(int64_t h, int64_t kernel, int64_t stride, int64_t pad, int64_t outputs) {
  const int64_t hp = h + pad;
  return {hp < kernel ? 0 : (hp - kernel) / stride + 1, imin(hp / stride + 1, outputs)};
}

template <class T>
__global__ void max_forward_kernel(const T* x, PoolShape g, Pool2dArgs a, T* y, int64_t* indices) {
  DISMAX_GRID_STRIDE_LOOP(i, g.planes * g.P * g.Q) {
    const int64_t q = i % g.Q, p = i / g.Q % g.P, plane = i / (g.P * g.Q);
    const T* px = x + plane * g.H * g.W;
    const int64_t h0 = p * a.stride_h - a.pad_h, w0 = q * a.stride_w - a.pad_w;
    const int64_t h1 = imin(h0 + a.kernel_h, g.H), w1 = imin(w0 + a.kernel_w, g.W);
    T best = -std::numeric_limits<T>::infinity();
    int64_t arg = -1;
    bool nan = false;  // the first NaN wins, as on the CPU
    for (int64_t h = imax(h0, 0); h < h1 && !nan; ++h)
      for (int64_t w = imax(w0, 0); w < w1; ++w) {
        const T v = px[h * g.W + w];
        if (arg < 0 || v > best || v != v) {
          best = v;
          arg = h * g.W + w;
          if (v != v) {
            nan = true;
            break;
          }
        }
      }
    y[i] = best;
    indices[i] = arg;
  }
}

template <class T>
__global__ void max_backward_kernel(const T* gy, const int64_t* indices, PoolShape g, Pool2dArgs a, T* gx) {
  DISMAX_GRID_STRIDE_LOOP(i, g.planes * g.H * g.W) {
    const int64_t w = i % g.W, h = i / g.W % g.H, plane = i / (g.H * g.W);
    const int64_t target = h * g.W + w;
    const Cover ph = covering(h, a.kernel_h, a.stride_h, a.pad_h, g.P);
    const Cover qw = covering(w, a.kernel_w, a.stride_w, a.pad_w, g.Q);
    const int64_t base = plane * g.P * g.Q;
    T sum = 0;
    for (int64_t p = ph.begin; p < ph.end; ++p)
      for (int64_t q = qw.begin; q < qw.end; ++q) {
        const int64_t o = base + p * g.Q + q;
        if (indices[o] == target) sum += gy[o];
      }
    gx[i] = sum;
  }
}

// PyTorch's divisor: the window clipped to the padded input when padding counts, else to the input.
struct Window {
  int64_t h0, h1, w0, w1, divisor;
};
__device__ Window avg_window(const Pool2dArgs& a, int64_t H, int64_t W, int64_t p, int64_t q) {
  int64_t h0 = p * a.stride_h - a.pad_h, w0 = q * a.stride_w - a.pad_w;
  int64_t h1 = imin(h0 + a.kernel_h, H + a.pad_h), w1 = imin(w0 + a.kernel_w, W + a.pad_w);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = imax(h0, 0);
  w0 = imax(w0, 0);
  h1 = imin(h1, H);
  w1 = imin(w1, W);
  return {h0, h1, w0, w1, a.count_include_pad ? padded : (h1 - h0) * (w1 - w0)};
}

template <class T>
__global__ void avg_forward_kernel(const T* x, PoolShape g, Pool2dArgs a, T* y) {
  DISMAX_GRID_STRIDE_LOOP(i, g.planes * g.P * g.Q) {
    const int64_t q = i % g.Q, p = i / g.Q % g.P, plane = i / (g.P * g.Q);
    const T* px = x + plane * g.H * g.W;
    const Window win = avg_window(a, g.H, g.W, p, q);
    T s = 0;
    for (int64_t h = win.h0; h < win.h1; ++h)
      for (int64_t w = win.w0; w < win.w1; ++w) s += px[h * g.W + w];
    y[i] = s / static_cast<T>(win.divisor);
  }
}

template <class T>
__global__ void avg_backward_kernel(const T* gy, PoolShape g, Pool2dArgs a, T* gx) {
  DISMAX_GRID_STRIDE_LOOP(i, g.planes * g.H * g.W) {
    const int64_t w = i % g.W, h = i / g.W % g.H, plane = i / (g.H * g.W);
    const Cover ph = covering(h, a.kernel_h, a.stride_h, a.pad_h, g.P);
    const Cover qw = covering(w, a.kernel_w, a.stride_w, a.pad_w, g.Q);
    const int64_t base = plane * g.P * g.Q;
    T sum = 0;
    for (int64_t p = ph.begin; p < ph.end; ++p)
      for (int64_t q = qw.begin; q < qw.end; ++q)
        sum += gy[base + p * g.Q + q] / static_cast<T>(avg_window(a, g.H, g.W, p, q).divisor);
    gx[i] = sum;
  }
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dArgs& args, Tensor& y, Tensor& indices) {
  DeviceGuard guard(y);
  dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (y.numel() == 0) return;
    max_forward_kernel<T><<<blocks_for(y.numel()), kThreads, 0, stream()>>>(ptr<T>(x), pool_shape(x, y), args,
                                                                             ptr<T>(y), ptr<int64_t>(indices));
    DISMAX_CUDA_CHECK_LAUNCH("max_pool2d");
  });
}

void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Pool2dArgs& args, Tensor& grad_x) {
  DeviceGuard guard(grad_x);
  dispatch_float(grad_y.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (grad_x.numel() == 0) return;
    max_backward_kernel<T><<<blocks_for(grad_x.numel()), kThreads, 0, stream()>>>(
        ptr<T>(grad_y), ptr<int64_t>(indices), pool_shape(grad_x, grad_y), args, ptr<T>(grad_x));
    DISMAX_CUDA_CHECK_LAUNCH("max_pool2d_backward");
  });
}

void avg_pool2d_forward(const Tensor& x, const Pool2dArgs& args, Tensor& y) {
  DeviceGuard guard(y);
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (y.numel() == 0) return;
    avg_forward_kernel<T><<<blocks_for(y.numel()), kThreads, 0, stream()>>>(ptr<T>(x), pool_shape(x, y), args,
                                                                             ptr<T>(y));
    DISMAX_CUDA_CHECK_LAUNCH("avg_pool2d");
  });
}

void avg_pool2d_backward(const Tensor& grad_y, const Pool2dArgs& args, Tensor& grad_x) {
  DeviceGuard guard(grad_x);
  dispatch_float(grad_y.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (grad_x.numel() == 0) return;
    avg_backward_kernel<T><<<blocks_for(grad_x.numel()), kThreads, 0, stream()>>>(
        ptr<T>(grad_y), pool_shape(grad_x, grad_y), args, ptr<T>(grad_x));
    DISMAX_CUDA_CHECK_LAUNCH("avg_pool2d_backward");
  });
}

}  // namespace dismax::cuda
