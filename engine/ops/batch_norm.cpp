#include "engine/ops/op_support.h"

namespace dismax {

namespace {
void check_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                      const Tensor& running_var, bool training, double eps) {
  check_defined("batch_norm", x, "input");
  DISMAX_CHECK(x.dim() >= 2, "batch_norm: input must be (N, C) or (N, C, ...), got ", x.describe());
  check_float_operands("batch_norm", {&x, &gamma, &beta, &running_mean, &running_var});
  const int64_t C = x.size(1);
  for (const auto& [t, what] : {std::pair<const Tensor*, const char*>{&gamma, "weight"}, {&beta, "bias"},
                                {&running_mean, "running_mean"}, {&running_var, "running_var"}}) {
    if (t->defined())
      DISMAX_CHECK(t->dim() == 1 && t->size(0) == C, "batch_norm: ", what, " ", shape_str(t->sizes()),
                   " does not match ", C, " channels of input ", shape_str(x.sizes()));
  }
  DISMAX_CHECK(training || (running_mean.defined() && running_var.defined()),
               "batch_norm: evaluation mode needs running_mean and running_var");
  DISMAX_CHECK(eps > 0.0, "batch_norm: eps must be > 0, got ", eps);
}

// The forward pass shared by batch_norm and batch_norm_add_relu: in training, the saved batch statistics
// (mean, invstd) from `train(rm, rv, mean, invstd)`, which also updates the running buffers; in evaluation,
// `eval(rm, rv)`, and the running statistics as mean/invstd when a gradient will be needed.
struct Statistics {
  Tensor mean, invstd;
};
template <class Train, class Eval>
Statistics forward_with_statistics(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                   bool training, double eps, bool needs_grad, const Train& train, const Eval& eval) {
  Statistics st;
  if (training) {
    const int64_t C = x.size(1);
    st.mean = Tensor::empty({C}, options_of(x));
    st.invstd = Tensor::empty({C}, options_of(x));
    Tensor rm = running_mean.defined() ? running_mean.detach() : Tensor();
    Tensor rv = running_var.defined() ? running_var.detach() : Tensor();
    DISMAX_CHECK(!rm.defined() || rm.is_contiguous(), "batch_norm: running_mean must be contiguous");
    DISMAX_CHECK(!rv.defined() || rv.is_contiguous(), "batch_norm: running_var must be contiguous");
    train(rm, rv, st.mean, st.invstd);
    if (rm.defined()) rm.storage()->bump_version();
    if (rv.defined()) rv.storage()->bump_version();
  } else {
    const Tensor rm = running_mean.detach().contiguous(), rv = running_var.detach().contiguous();
    eval(rm, rv);
    if (needs_grad) {
      NoGradGuard guard;
      st.mean = rm.clone();
      st.invstd = pow(affine(rv, 1.0, eps), -0.5);
    }
  }
  return st;
}
}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean, Tensor running_var,
                  bool training, double momentum, double eps) {
  check_batch_norm(x, gamma, beta, running_mean, running_var, training, eps);
  const Tensor xc = x.contiguous().detach();
  const Tensor g = gamma.defined() ? gamma.detach() : Tensor(), b = beta.defined() ? beta.detach() : Tensor();
  Tensor y = Tensor::empty(x.sizes(), options_of(x));
  const Statistics st = forward_with_statistics(
      x, running_mean, running_var, training, eps, any_requires_grad({&x, &gamma, &beta}),
      [&](Tensor& rm, Tensor& rv, Tensor& m, Tensor& is) {
        DISMAX_KERNEL(x.device(), batch_norm_forward_train)(xc, g, b, rm, rv, momentum, eps, y, m, is);
      },
      [&](const Tensor& rm, const Tensor& rv) {
        DISMAX_KERNEL(x.device(), batch_norm_forward_eval)(xc, g, b, rm, rv, eps, y);
      });
  const Tensor mean = st.mean, invstd = st.invstd;
  record_if_needed("batch_norm", {&x, &gamma, &beta}, {&y}, [&] {
    return [sx = SavedTensor(xc), sg = SavedTensor(g), mean, invstd, training](const std::vector<Tensor>& grads,
                                                                                const Node& self) {
      const Tensor& xv = sx.unpack(self);
      Tensor gx = self.needs_input_grad(0) ? Tensor::empty_like(xv) : Tensor();
      Tensor gg = self.needs_input_grad(1) ? Tensor::empty_like(mean) : Tensor();
      Tensor gb = self.needs_input_grad(2) ? Tensor::empty_like(mean) : Tensor();
      DISMAX_KERNEL(xv.device(), batch_norm_backward)(grads[0], xv, sg.unpack(self), mean, invstd, training, gx, gg,
                                                      gb);
      return std::vector<Tensor>{gx, gg, gb};
    };
  });
  return y;
}

Tensor batch_norm_add_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean,
                           Tensor running_var, bool training, double momentum, double eps, const Tensor& residual,
                           bool relu) {
  check_batch_norm(x, gamma, beta, running_mean, running_var, training, eps);
  if (residual.defined()) {
    DISMAX_CHECK(residual.sizes() == x.sizes(), "batch_norm_add_relu: residual ", shape_str(residual.sizes()),
                 " does not match input ", shape_str(x.sizes()));
    check_float_operands("batch_norm_add_relu", {&x, &residual});
  }
  const Tensor xc = x.contiguous().detach();
  const Tensor rc = residual.defined() ? residual.contiguous().detach() : Tensor();
  const Tensor g = gamma.defined() ? gamma.detach() : Tensor(), b = beta.defined() ? beta.detach() : Tensor();
  Tensor y = Tensor::empty(x.sizes(), options_of(x));
  const Statistics st = forward_with_statistics(
      x, running_mean, running_var, training, eps, any_requires_grad({&x, &gamma, &beta, &residual}),
      [&](Tensor& rm, Tensor& rv, Tensor& m, Tensor& is) {
        DISMAX_KERNEL(x.device(), batch_norm_act_forward_train)(xc, g, b, rm, rv, momentum, eps, rc, relu, y, m, is);
      },
      [&](const Tensor& rm, const Tensor& rv) {
        DISMAX_KERNEL(x.device(), batch_norm_act_forward_eval)(xc, g, b, rm, rv, eps, rc, relu, y);
      });
  const Tensor mean = st.mean, invstd = st.invstd;
  record_if_needed("batch_norm_add_relu", {&x, &gamma, &beta, &residual}, {&y}, [&] {
    // The output is saved only for the ReLU's mask.
    return [sx = SavedTensor(xc), sy = relu ? SavedTensor(y) : SavedTensor(), sg = SavedTensor(g), mean, invstd,
            training, relu](const std::vector<Tensor>& grads, const Node& self) {
      const Tensor& xv = sx.unpack(self);
      const bool want_x = self.needs_input_grad(0), want_g = self.needs_input_grad(1);
      const bool want_b = self.needs_input_grad(2), want_r = self.needs_input_grad(3);
      Tensor gx = want_x ? Tensor::empty_like(xv) : Tensor();
      Tensor gg = want_g ? Tensor::empty_like(mean) : Tensor();
      Tensor gb = want_b ? Tensor::empty_like(mean) : Tensor();
      // Without the ReLU the residual's gradient is the incoming one itself: no copy.
      Tensor gr = want_r && relu ? Tensor::empty_like(xv) : Tensor();
      const Tensor y_saved = relu ? sy.unpack(self) : Tensor();
      DISMAX_KERNEL(xv.device(), batch_norm_act_backward)(grads[0], y_saved, xv, sg.unpack(self), mean, invstd,
                                                          training, relu, gx, gg, gb, gr);
      if (want_r && !relu) gr = grads[0];
      return std::vector<Tensor>{gx, gg, gb, gr};
    };
  });
  return y;
}

}  // namespace dismax
