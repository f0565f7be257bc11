// One SGD step per element, in the CPU's (PyTorch's) order and rounding.
#include <cstdint>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"
#include "engine/cuda/sgd_step.cuh"

namespace dismax::cuda {

namespace {

template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, int64_t n, SgdStep<T> a) {
  DISMAX_GRID_STRIDE_LOOP(i, n) sgd_element(p, g, buf, i, a, a.first);
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
