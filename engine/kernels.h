// The dispatch seam between the op front end (engine/ops) and the backends (engine/cpu, engine/cuda).
// Every kernel has one signature for every backend; a backend that lacks a kernel leaves its slot empty
// and the front end reports "kernel X is not supported on <device>" instead of falling back silently.
//
// Conventions for all kernels (the front end guarantees them):
// * every tensor argument lives on the backend's device and has the dtype the kernel documents;
// * inputs are contiguous unless the comment says "strided"; outputs are freshly allocated contiguous
//   tensors of the right shape, unless the comment says "accumulates" (then they hold valid data);
// * an undefined optional tensor (Tensor()) means "absent" / "not needed".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/tensor.h"

namespace dismax {

class Generator;

enum class UnaryOp {
  Neg, Abs, Sign, Exp, Log, Sqrt, Rsqrt, Reciprocal, Square, Relu,
  Pow,        // x^alpha
  Clamp,      // min(max(x, alpha), beta)
  InRange,    // 1 if alpha <= x <= beta else 0
  Affine,     // alpha * x + beta
  Gt,         // 1 if x > alpha else 0
};
enum class BinaryOp {
  Add,           // a + alpha * b
  Sub,           // a - b
  Mul, Div, Maximum, Minimum,
  ReluBackward,  // a * (b > 0)
  SignMul,       // a * sign(b)
  GeMask,        // 1 if a >= b else 0
  Eq,            // 1 if a == b else 0
};
enum class ReduceOp { Sum, Mean, Max, Min };

struct Conv2dArgs {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};
struct Pool2dArgs {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg pool only
};

// One SGD step in PyTorch's order: g = grad + weight_decay * p; with momentum, buf = g on the first step,
// else buf = momentum * buf + (1 - dampening) * g, then g = g + momentum * buf (Nesterov) or g = buf;
// finally p -= lr * g.
struct SgdArgs {
  double lr = 0.1, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer is uninitialised
};
// One parameter of a whole-model SGD step (sgd_update_many); first_step is per parameter there.
struct SgdTensors {
  Tensor param, grad, momentum_buffer;
  bool first_step = false;
};

#define DISMAX_KERNEL_LIST(X)                                                                                \
  /* out (strided) = value */                                                                                \
  X(fill, void(Tensor & out, double value))                                                                  \
  /* dst (strided) = src (strided, same shape, dtype converted) */                                          \
  X(copy, void(Tensor & dst, const Tensor& src))                                                             \
  /* host <-> this device, contiguous, same dtype; provided by non-CPU backends */                          \
  X(copy_between_devices, void(Tensor & dst, const Tensor& src))                                             \
  /* counter-based (Philox) random fills: element i depends only on (seed, offset, i) */                     \
  X(uniform, void(Tensor & out, Generator & gen, double low, double high))                                   \
  X(normal, void(Tensor & out, Generator & gen, double mean, double std))                                    \
  X(bernoulli, void(Tensor & out, Generator & gen, double p))                                                \
  /* out = op(x); float dtypes */                                                                            \
  X(unary, void(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta))                        \
  /* out = op(a, b); a and b strided (broadcast views of out's shape, stride 0 allowed) */                   \
  X(binary, void(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha))                  \
  /* out (x's shape with size 1 at dim) = reduction of x over dim */                                          \
  X(reduce, void(ReduceOp op, const Tensor& x, int64_t dim, Tensor& out))                                    \
  /* values, indices (int64) = max of x over dim, first index on ties (x's shape with 1 at dim) */           \
  X(max_dim, void(const Tensor& x, int64_t dim, Tensor& values, Tensor& indices))                            \
  X(softmax, void(const Tensor& x, int64_t dim, bool log, Tensor& out))                                      \
  X(softmax_backward, void(const Tensor& grad_out, const Tensor& out, int64_t dim, bool log, Tensor& grad_in)) \
  /* c (M x N, contiguous) = alpha * a * b + beta * c; a (M x K) and b (K x N) strided 2-D (transposes are */ \
  /* views); with beta == 0, c is write-only */                                                              \
  X(gemm, void(double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c))                      \
  /* x (N,C,H,W), w (K,C,R,S), bias (K) optional -> y (N,K,P,Q) */                                           \
  X(conv2d_forward, void(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args, Tensor& y)) \
  /* grad_x (N,C,H,W), grad_w (K,C,R,S), grad_bias (K): each optional (undefined = not needed) */          \
  X(conv2d_backward, void(const Tensor& grad_y, const Tensor& x, const Tensor& w, const Conv2dArgs& args,    \
                          Tensor& grad_x, Tensor& grad_w, Tensor& grad_bias))                                \
  /* training: batch statistics over (N,H,W); biased variance normalises; running_mean/var (optional)    */  \
  /* accumulate with momentum and the unbiased variance; save_mean/save_invstd (C) are written           */  \
  X(batch_norm_forward_train, void(const Tensor& x, const Tensor& gamma, const Tensor& beta,                  \
                                   Tensor& running_mean, Tensor& running_var, double momentum, double eps,   \
                                   Tensor& y, Tensor& save_mean, Tensor& save_invstd))                       \
  X(batch_norm_forward_eval, void(const Tensor& x, const Tensor& gamma, const Tensor& beta,                   \
                                  const Tensor& running_mean, const Tensor& running_var, double eps, Tensor& y)) \
  /* mean/invstd are the saved batch statistics (training) or running ones (eval); outputs optional */      \
  X(batch_norm_backward, void(const Tensor& grad_y, const Tensor& x, const Tensor& gamma, const Tensor& mean, \
                              const Tensor& invstd, bool training, Tensor& grad_x, Tensor& grad_gamma,       \
                              Tensor& grad_beta))                                                            \
  /* y = act(batch_norm(x) + residual): the batch norm above (training or eval), then residual (x's shape, */ \
  /* optional) added, then max(0, .) where relu; one pass over x after the statistics                     */ \
  X(batch_norm_act_forward_train, void(const Tensor& x, const Tensor& gamma, const Tensor& beta,              \
                                       Tensor& running_mean, Tensor& running_var, double momentum, double eps, \
                                       const Tensor& residual, bool relu, Tensor& y, Tensor& save_mean,      \
                                       Tensor& save_invstd))                                                 \
  X(batch_norm_act_forward_eval, void(const Tensor& x, const Tensor& gamma, const Tensor& beta,               \
                                      const Tensor& running_mean, const Tensor& running_var, double eps,     \
                                      const Tensor& residual, bool relu, Tensor& y))                         \
  /* y is the forward output: where relu, grad_y counts only where y > 0; grad_residual = that masked      */ \
  /* grad_y; outputs optional                                                                              */ \
  X(batch_norm_act_backward, void(const Tensor& grad_y, const Tensor& y, const Tensor& x, const Tensor& gamma, \
                                  const Tensor& mean, const Tensor& invstd, bool training, bool relu,         \
                                  Tensor& grad_x, Tensor& grad_gamma, Tensor& grad_beta, Tensor& grad_residual)) \
  X(max_pool2d_forward, void(const Tensor& x, const Pool2dArgs& args, Tensor& y, Tensor& indices))           \
  X(max_pool2d_backward, void(const Tensor& grad_y, const Tensor& indices, const Pool2dArgs& args,            \
                              Tensor& grad_x))                                                               \
  X(avg_pool2d_forward, void(const Tensor& x, const Pool2dArgs& args, Tensor& y))                            \
  X(avg_pool2d_backward, void(const Tensor& grad_y, const Pool2dArgs& args, Tensor& grad_x))                 \
  /* d (B,C) = Euclidean distance between rows of a (B,F) and b (C,F), from differences */                   \
  X(cdist_forward, void(const Tensor& a, const Tensor& b, Tensor& d))                                        \
  /* gradient 0 where d == 0; grad_a / grad_b optional */                                                    \
  X(cdist_backward, void(const Tensor& grad_d, const Tensor& a, const Tensor& b, const Tensor& d,             \
                         Tensor& grad_a, Tensor& grad_b))                                                    \
  /* out = x gathered along dim at index (int64, 1-D, validated by the front end) */                         \
  X(index_select, void(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out))                      \
  /* accumulates: out[..., index[i], ...] += src[..., i, ...] along dim */                                   \
  X(index_add, void(Tensor & out, int64_t dim, const Tensor& index, const Tensor& src))                      \
  /* out (N, C) float = one-hot of labels (N, int64, validated) */                                           \
  X(one_hot, void(const Tensor& labels, Tensor& out))                                                        \
  /* param, grad, momentum_buffer (optional when momentum is 0) contiguous, same shape; updated in place */   \
  X(sgd_update, void(Tensor & param, const Tensor& grad, Tensor& momentum_buffer, const SgdArgs& args))        \
  /* the same step over every parameter of a model at once (one launch on a GPU); args.first_step unused */   \
  X(sgd_update_many, void(std::vector<SgdTensors> & tensors, const SgdArgs& args))

// kernel_fn::<name> is the function type of each kernel.
namespace kernel_fn {
#define DISMAX_DECLARE_KERNEL_TYPE(name, signature) using name = signature;
DISMAX_KERNEL_LIST(DISMAX_DECLARE_KERNEL_TYPE)
#undef DISMAX_DECLARE_KERNEL_TYPE
}  // namespace kernel_fn

struct KernelTable {
#define DISMAX_DECLARE_KERNEL_SLOT(name, signature) kernel_fn::name* name = nullptr;
  DISMAX_KERNEL_LIST(DISMAX_DECLARE_KERNEL_SLOT)
#undef DISMAX_DECLARE_KERNEL_SLOT
};

// Everything the engine needs from one device type.
struct Backend {
  const char* name = "";
  Allocator* allocator = nullptr;
  // Page-locked host memory for asynchronous host-to-device copies (Tensor::pin_memory); device backends only.
  Allocator* pinned_host_allocator = nullptr;
  KernelTable kernels;
  int (*device_count)() = nullptr;  // counted once per process
  void (*synchronize)(int device_index) = nullptr;
  // What the backend chose for its most recent work (cuDNN engines, ...), for test and error messages.
  std::string (*diagnostics)() = nullptr;
};

// The backend for `device`; throws if it was not built in or the device does not exist.
const Backend& backend_for(Device device);
bool backend_available(DeviceType type);
// Names of all kernels, and whether a device type implements one (for tests and "supports" queries).
std::vector<std::string> kernel_names();
bool kernel_supported(DeviceType type, const std::string& kernel_name);
// The backend's diagnostics (Backend::diagnostics), or "" when it has none or is not available.
std::string backend_diagnostics(Device device);

namespace detail {
[[noreturn]] void kernel_missing(const char* name, Device device);
template <class F>
F* require_kernel(F* fn, const char* name, Device device) {
  if (fn == nullptr) kernel_missing(name, device);
  return fn;
}
}  // namespace detail

}  // namespace dismax

// KERNEL(device, name)(args...): calls the named kernel of the device's backend.
#define DISMAX_KERNEL(device, name) \
  (::dismax::detail::require_kernel(::dismax::backend_for(device).kernels.name, #name, (device)))
