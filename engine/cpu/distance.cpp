// Pairwise Euclidean distance computed from the differences themselves: the |a|^2 + |b|^2 - 2ab shortcut
// cancels catastrophically for nearby points and its gradient is unstable near zero distance.
#include <cmath>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {

template <class T>
DISMAX_SIMD_CLONES T squared_distance(const T* a, const T* b, int64_t n) {
  T part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const T d = a[i + j] - b[i + j];
      part[j] += d * d;
    }
  T s = 0;
  for (; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  for (int j = 0; j < 8; ++j) s += part[j];
  return s;
}

// out += w * (a - b)
template <class T>
DISMAX_SIMD_CLONES void axpy_difference(T* out, T w, const T* a, const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += w * (a[i] - b[i]);
}

template <class T>
void forward_typed(const Tensor& a, const Tensor& b, Tensor& d) {
  const int64_t B = a.size(0), C = b.size(0), F = a.size(1);
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* pd = static_cast<T*>(d.raw_data());
  parallel_for(0, B * C, std::max<int64_t>(1, 16384 / std::max<int64_t>(F, 1)), [&](int64_t s, int64_t e) {
    for (int64_t it = s; it < e; ++it) pd[it] = std::sqrt(squared_distance(pa + (it / C) * F, pb + (it % C) * F, F));
  });
}

template <class T>
void backward_typed(const Tensor& gd, const Tensor& a, const Tensor& b, const Tensor& d, Tensor& ga, Tensor& gb) {
  const int64_t B = a.size(0), C = b.size(0), F = a.size(1);
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  const T* pg = static_cast<const T*>(gd.raw_data());
  const T* pd = static_cast<const T*>(d.raw_data());
  auto weight = [&](int64_t i, int64_t j) {
    const T dist = pd[i * C + j];
    return dist == T(0) ? T(0) : pg[i * C + j] / dist;
  };
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(F * std::max(B, C), 1));
  if (ga.defined()) {
    T* out = static_cast<T*>(ga.raw_data());
    parallel_for(0, B, grain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) {
        std::fill(out + i * F, out + (i + 1) * F, T(0));
        for (int64_t j = 0; j < C; ++j) axpy_difference(out + i * F, weight(i, j), pa + i * F, pb + j * F, F);
      }
    });
  }
  if (gb.defined()) {
    T* out = static_cast<T*>(gb.raw_data());
    parallel_for(0, C, grain, [&](int64_t s, int64_t e) {
      for (int64_t j = s; j < e; ++j) {
        std::fill(out + j * F, out + (j + 1) * F, T(0));
        for (int64_t i = 0; i < B; ++i) axpy_difference(out + j * F, weight(i, j), pb + j * F, pa + i * F, F);
      }
    });
  }
}

}  // namespace

void cdist_forward(const Tensor& a, const Tensor& b, Tensor& d) {
  dispatch_float(a.dtype(), "cdist", [&](auto tag) { forward_typed<typename decltype(tag)::type>(a, b, d); });
}

void cdist_backward(const Tensor& grad_d, const Tensor& a, const Tensor& b, const Tensor& d, Tensor& grad_a,
                    Tensor& grad_b) {
  dispatch_float(a.dtype(), "cdist_backward", [&](auto tag) {
    backward_typed<typename decltype(tag)::type>(grad_d, a, b, d, grad_a, grad_b);
  });
}

}  // namespace dismax::cpu
