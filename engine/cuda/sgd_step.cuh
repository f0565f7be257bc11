// One element of an SGD step in the CPU's (PyTorch's) order: products are rounded on their own (no FMA
// contraction), as the CPU's scalar code computes them (its vector clones may still fuse, so the two devices
// agree to the last bit or two, not always bit for bit).
#pragma once

namespace dismax::cuda {

__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

template <class T>
struct SgdStep {
  T lr, momentum, dampening, weight_decay;
  bool nesterov, first;
};

// buf == nullptr: no momentum (p -= lr * (g + wd * p)).
template <class T>
__device__ inline void sgd_element(T* p, const T* g, T* buf, int64_t i, const SgdStep<T>& a, bool first) {
  const T d = g[i] + mul_rn(a.weight_decay, p[i]);
  if (buf == nullptr) {
    p[i] -= mul_rn(a.lr, d);
    return;
  }
  const T b = first ? d : mul_rn(a.momentum, buf[i]) + mul_rn(T(1) - a.dampening, d);
  buf[i] = b;
  p[i] -= mul_rn(a.lr, a.nesterov ? d + mul_rn(a.momentum, b) : b);
}

}  // namespace dismax::cuda
