// The fused batch norm + residual + ReLU kernels on CUDA, composed from this backend's own batch norm and
// elementwise kernels (the residual and ReLU run in place on y): the same results as the CPU's single pass,
// without its saving in memory traffic.
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {
void add_and_activate(const Tensor& residual, bool relu, Tensor& y) {
  if (residual.defined()) binary(BinaryOp::Add, y, residual, y, 1.0);
  if (relu) unary(UnaryOp::Relu, y, y, 0.0, 0.0);
}
}  // namespace

void batch_norm_act_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                                  Tensor& running_var, double momentum, double eps, const Tensor& residual, bool relu,
                                  Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  batch_norm_forward_train(x, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean, save_invstd);
  add_and_activate(residual, relu, y);
}

void batch_norm_act_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, const Tensor& residual, bool relu, Tensor& y) {
  batch_norm_forward_eval(x, gamma, beta, running_mean, running_var, eps, y);
  add_and_activate(residual, relu, y);
}

void batch_norm_act_backward(const Tensor& grad_y, const Tensor& y, const Tensor& x, const Tensor& gamma,
                             const Tensor& mean, const Tensor& invstd, bool training, bool relu, Tensor& grad_x,
                             Tensor& grad_gamma, Tensor& grad_beta, Tensor& grad_residual) {
  Tensor masked = grad_y;
  if (relu) {
    masked = grad_residual.defined() ? grad_residual : Tensor::empty_like(grad_y);
    binary(BinaryOp::ReluBackward, grad_y, y, masked, 0.0);
  } else if (grad_residual.defined()) {
    copy(grad_residual, grad_y);
  }
  batch_norm_backward(masked, x, gamma, mean, invstd, training, grad_x, grad_gamma, grad_beta);
}

}  // namespace dismax::cuda
