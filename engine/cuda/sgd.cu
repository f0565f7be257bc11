// One SGD step per element, in the CPU's (PyTorch's) order and rounding.
#include <cstdint>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

// Products are rounded on their own (no FMA), as the CPU computes them.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

template <class T>
struct SgdStep {
  T lr, momentum, dampening, weight_decay;
  bool nesterov, first;
};

// buf == nullptr: no momentum (p -= lr * (g + wd * p)).
template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, int64_t n, SgdStep<T> a) {
  DISMAX_GRID_STRIDE_LOOP(i, n) {
    const T d = g[i] + mul_rn(a.weight_decay, p[i]);
    if (buf == nullptr) {
      p[i] -= mul_rn(a.lr, d);
      continue;
    }
    const T b = a.first ? d : mul_rn(a.momentum, buf[i]) + mul_rn(T(1) - a.dampening, d);
    buf[i] = b;
    p[i] -= mul_rn(a.lr, a.nesterov ? d + mul_rn(a.momentum, b) : b);
  }
}

}  // namespace

void sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdArgs& args) {
  DeviceGuard guard(param);
  dispatch_float(param.dtype(), "sgd_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t n = param.numel();
    if (n == 0) return;
    const SgdStep<T> step{static_cast<T>(args.lr), static_cast<T>(args.momentum), static_cast<T>(args.dampening),
                          static_cast<T>(args.weight_decay), args.nesterov, args.first_step};
    T* buf = momentum_buffer.defined() ? ptr<T>(momentum_buffer) : nullptr;
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(ptr<T>(param), ptr<T>(grad), buf, n, step);
    DISMAX_CUDA_CHECK_LAUNCH("sgd_update");
  });
}

}  // namespace dismax::cuda
