#include "engine/ops/op_support.h"

namespace dismax {

Tensor norm(const Tensor& x, int64_t dim, bool keepdim) {
  check_defined("norm", x, "input");
  check_float_operands("norm", {&x});
  const int64_t d = wrap_dim(dim, x.dim(), "norm");
  Tensor out;
  {
    NoGradGuard guard;
    out = sqrt(sum(square(x.detach()), {d}, keepdim));
  }
  record_if_needed("norm", {&x}, {&out}, [&] {
    return [sx = SavedTensor(x), sn = SavedTensor(out), d, keepdim](const std::vector<Tensor>& g, const Node& self) {
      // d||x||/dx = x / ||x||, defined as 0 where the norm is 0 (PyTorch's subgradient choice).
      const Tensor& xv = sx.unpack(self);
      Tensor n = sn.unpack(self), grad = g[0];
      if (!keepdim) {
        n = n.unsqueeze(d);
        grad = grad.unsqueeze(d);
      }
      const Tensor positive = gt(n, 0.0);
      const Tensor scale = div(grad, add(n, 1.0 - positive)) * positive;  // no 0/0 where the norm is 0
      return std::vector<Tensor>{mul(xv, scale)};
    };
  });
  return out;
}

Tensor normalize(const Tensor& x, int64_t dim, double eps) {
  return div(x, clamp_min(norm(x, dim, true), eps));
}

Tensor cdist(const Tensor& a, const Tensor& b) {
  check_rank("cdist", a, 2, "first operand");
  check_rank("cdist", b, 2, "second operand");
  check_float_operands("cdist", {&a, &b});
  DISMAX_CHECK(a.size(1) == b.size(1), "cdist: feature sizes differ: ", shape_str(a.sizes()), " and ",
               shape_str(b.sizes()));
  const Tensor ac = a.contiguous().detach(), bc = b.contiguous().detach();
  Tensor d = Tensor::empty({a.size(0), b.size(0)}, options_of(a));
  DISMAX_KERNEL(a.device(), cdist_forward)(ac, bc, d);
  record_if_needed("cdist", {&a, &b}, {&d}, [&] {
    return [sa = SavedTensor(ac), sb = SavedTensor(bc), sd = SavedTensor(d)](const std::vector<Tensor>& g,
                                                                           const Node& self) {
      const Tensor &av = sa.unpack(self), &bv = sb.unpack(self);
      Tensor ga = self.needs_input_grad(0) ? Tensor::empty_like(av) : Tensor();
      Tensor gb = self.needs_input_grad(1) ? Tensor::empty_like(bv) : Tensor();
      DISMAX_KERNEL(av.device(), cdist_backward)(g[0], av, bv, sd.unpack(self), ga, gb);
      return std::vector<Tensor>{ga, gb};
    };
  });
  return d;
}

}  // namespace dismax
