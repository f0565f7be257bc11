#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {
template <class T>
DISMAX_SIMD_CLONES void sgd_run(T* p, const T* g, T* buf, int64_t n, T lr, T momentum, T dampening, T wd,
                                bool nesterov, bool first) {
  if (buf == nullptr) {
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const T d = g[i] + wd * p[i];
    const T b = first ? d : momentum * buf[i] + (T(1) - dampening) * d;
    buf[i] = b;
    p[i] -= lr * (nesterov ? d + momentum * b : b);
  }
}
}  // namespace

void sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdArgs& a) {
  dispatch_float(param.dtype(), "sgd_update", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(param.raw_data());
    const T* g = static_cast<const T*>(grad.raw_data());
    T* buf = momentum_buffer.defined() ? static_cast<T*>(momentum_buffer.raw_data()) : nullptr;
    parallel_for(0, param.numel(), 65536, [&](int64_t b, int64_t e) {
      sgd_run<T>(p + b, g + b, buf ? buf + b : nullptr, e - b, static_cast<T>(a.lr), static_cast<T>(a.momentum),
                 static_cast<T>(a.dampening), static_cast<T>(a.weight_decay), a.nesterov, a.first_step);
    });
  });
}

void sgd_update_many(std::vector<SgdTensors>& tensors, const SgdArgs& args) {
  for (SgdTensors& t : tensors) {
    SgdArgs a = args;
    a.first_step = t.first_step;
    sgd_update(t.param, t.grad, t.momentum_buffer, a);
  }
}

}  // namespace dismax::cpu
