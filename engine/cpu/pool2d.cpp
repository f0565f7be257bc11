#include <limits>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {

struct PoolGeometry {
  int64_t planes, H, W, P, Q;
};
PoolGeometry pool_geometry(const Tensor& x, const Tensor& y) {
  return {x.size(0) * x.size(1), x.size(2), x.size(3), y.size(2), y.size(3)};
}

template <class T>
void max_forward(const Tensor& x, const Pool2dArgs& a, Tensor& y, Tensor& indices) {
  const PoolGeometry g = pool_geometry(x, y);
  const T* px = static_cast<const T*>(x.raw_data());
  T* py = static_cast<T*>(y.raw_data());
  int64_t* pi = static_cast<int64_t*>(indices.raw_data());
  parallel_for(0, g.planes, 4, [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      const T* plane = px + pl * g.H * g.W;
      for (int64_t p = 0; p < g.P; ++p)
        for (int64_t q = 0; q < g.Q; ++q) {
          const int64_t h0 = p * a.stride_h - a.pad_h, w0 = q * a.stride_w - a.pad_w;
          T best = -std::numeric_limits<T>::infinity();
          int64_t arg = -1;
          for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + a.kernel_h, g.H); ++h)
            for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + a.kernel_w, g.W); ++w) {
              const T v = plane[h * g.W + w];
              if (arg < 0 || v > best || v != v) {
                best = v;
                arg = h * g.W + w;
                if (v != v) goto done;
              }
            }
        done:
          py[(pl * g.P + p) * g.Q + q] = best;
          pi[(pl * g.P + p) * g.Q + q] = arg;
        }
    }
  });
}

template <class T>
void max_backward(const Tensor& gy, const Tensor& indices, Tensor& gx) {
  const PoolGeometry g = pool_geometry(gx, gy);
  const T* pg = static_cast<const T*>(gy.raw_data());
  const int64_t* pi = static_cast<const int64_t*>(indices.raw_data());
  T* px = static_cast<T*>(gx.raw_data());
  parallel_for(0, g.planes, 4, [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      T* plane = px + pl * g.H * g.W;
      std::fill(plane, plane + g.H * g.W, T(0));
      const int64_t o = pl * g.P * g.Q;
      for (int64_t i = 0; i < g.P * g.Q; ++i)
        if (pi[o + i] >= 0) plane[pi[o + i]] += pg[o + i];
    }
  });
}

// PyTorch's divisor: the window clipped to the padded input when padding counts, else to the input.
struct Window {
  int64_t h0, h1, w0, w1, divisor;
};
Window avg_window(const Pool2dArgs& a, int64_t H, int64_t W, int64_t p, int64_t q) {
  int64_t h0 = p * a.stride_h - a.pad_h, w0 = q * a.stride_w - a.pad_w;
  int64_t h1 = std::min(h0 + a.kernel_h, H + a.pad_h), w1 = std::min(w0 + a.kernel_w, W + a.pad_w);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, H);
  w1 = std::min(w1, W);
  return {h0, h1, w0, w1, a.count_include_pad ? padded : (h1 - h0) * (w1 - w0)};
}

template <class T>
void avg_forward(const Tensor& x, const Pool2dArgs& a, Tensor& y) {
  const PoolGeometry g = pool_geometry(x, y);
  const T* px = static_cast<const T*>(x.raw_data());
  T* py = static_cast<T*>(y.raw_data());
  parallel_for(0, g.planes, 4, [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      const T* plane = px + pl * g.H * g.W;
      for (int64_t p = 0; p < g.P; ++p)
        for (int64_t q = 0; q < g.Q; ++q) {
          const Window win = avg_window(a, g.H, g.W, p, q);
          T s = 0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) s += plane[h * g.W + w];
          py[(pl * g.P + p) * g.Q + q] = s / static_cast<T>(win.divisor);
        }
    }
  });
}

template <class T>
void avg_backward(const Tensor& gy, const Pool2dArgs& a, Tensor& gx) {
  const PoolGeometry g = pool_geometry(gx, gy);
  const T* pg = static_cast<const T*>(gy.raw_data());
  T* px = static_cast<T*>(gx.raw_data());
  parallel_for(0, g.planes, 4, [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      T* plane = px + pl * g.H * g.W;
      std::fill(plane, plane + g.H * g.W, T(0));
      for (int64_t p = 0; p < g.P; ++p)
        for (int64_t q = 0; q < g.Q; ++q) {
          const Window win = avg_window(a, g.H, g.W, p, q);
          const T v = pg[(pl * g.P + p) * g.Q + q] / static_cast<T>(win.divisor);
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) plane[h * g.W + w] += v;
        }
    }
  });
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dArgs& args, Tensor& y, Tensor& indices) {
  dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) { max_forward<typename decltype(tag)::type>(x, args, y, indices); });
}
void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Pool2dArgs&, Tensor& grad_x) {
  dispatch_float(grad_y.dtype(), "max_pool2d_backward", [&](auto tag) {
    max_backward<typename decltype(tag)::type>(grad_y, indices, grad_x);
  });
}
void avg_pool2d_forward(const Tensor& x, const Pool2dArgs& args, Tensor& y) {
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto tag) { avg_forward<typename decltype(tag)::type>(x, args, y); });
}
void avg_pool2d_backward(const Tensor& grad_y, const Pool2dArgs& args, Tensor& grad_x) {
  dispatch_float(grad_y.dtype(), "avg_pool2d_backward", [&](auto tag) {
    avg_backward<typename decltype(tag)::type>(grad_y, args, grad_x);
  });
}

}  // namespace dismax::cpu
