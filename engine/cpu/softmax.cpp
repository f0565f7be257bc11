#include <cmath>
#include <limits>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {

// Runs fn(row_base, stride) over every softmax row of an [outer, n, inner] layout.
template <class F>
void for_each_row(const DimSplit& s, const F& fn) {
  parallel_for(0, s.outer * s.inner, std::max<int64_t>(1, 8192 / std::max<int64_t>(s.n, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t j = b; j < e; ++j) fn((j / s.inner) * s.n * s.inner + j % s.inner, s.inner);
               });
}

template <class T>
void softmax_typed(const Tensor& x, int64_t dim, bool log, Tensor& out) {
  const DimSplit s(x.sizes(), dim);
  const T* px = static_cast<const T*>(x.raw_data());
  T* py = static_cast<T*>(out.raw_data());
  for_each_row(s, [&](int64_t base, int64_t st) {
    const T* xr = px + base;
    T* yr = py + base;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t k = 0; k < s.n; ++k) m = std::max(m, xr[k * st]);
    if (std::isinf(m) && m < 0) m = 0;  // all -inf: keep the arithmetic finite (result is NaN like PyTorch)
    T total = 0;
    for (int64_t k = 0; k < s.n; ++k) {
      const T ek = std::exp(xr[k * st] - m);
      total += ek;
      if (!log) yr[k * st] = ek;
    }
    if (log) {
      const T lse = m + std::log(total);
      for (int64_t k = 0; k < s.n; ++k) yr[k * st] = xr[k * st] - lse;
    } else {
      const T inv = T(1) / total;
      for (int64_t k = 0; k < s.n; ++k) yr[k * st] *= inv;
    }
  });
}

template <class T>
void softmax_backward_typed(const Tensor& gy, const Tensor& y, int64_t dim, bool log, Tensor& gx) {
  const DimSplit s(y.sizes(), dim);
  const T* pg = static_cast<const T*>(gy.raw_data());
  const T* py = static_cast<const T*>(y.raw_data());
  T* px = static_cast<T*>(gx.raw_data());
  for_each_row(s, [&](int64_t base, int64_t st) {
    const T* g = pg + base;
    const T* yr = py + base;
    T* out = px + base;
    T dot = 0;
    if (log) {
      for (int64_t k = 0; k < s.n; ++k) dot += g[k * st];
      for (int64_t k = 0; k < s.n; ++k) out[k * st] = g[k * st] - std::exp(yr[k * st]) * dot;
    } else {
      for (int64_t k = 0; k < s.n; ++k) dot += g[k * st] * yr[k * st];
      for (int64_t k = 0; k < s.n; ++k) out[k * st] = yr[k * st] * (g[k * st] - dot);
    }
  });
}

}  // namespace

void softmax(const Tensor& x, int64_t dim, bool log, Tensor& out) {
  dispatch_float(x.dtype(), "softmax", [&](auto tag) { softmax_typed<typename decltype(tag)::type>(x, dim, log, out); });
}

void softmax_backward(const Tensor& grad_out, const Tensor& out, int64_t dim, bool log, Tensor& grad_in) {
  dispatch_float(out.dtype(), "softmax_backward", [&](auto tag) {
    softmax_backward_typed<typename decltype(tag)::type>(grad_out, out, dim, log, grad_in);
  });
}

}  // namespace dismax::cpu
