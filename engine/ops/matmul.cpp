#include "engine/ops/op_support.h"

namespace dismax {

namespace {
// c = a * b for 2-D strided views; a fresh contiguous result.
Tensor gemm_into(const Tensor& a, const Tensor& b, const Tensor& init = Tensor()) {
  Tensor c = Tensor::empty({a.size(0), b.size(1)}, options_of(a));
  double beta = 0.0;
  if (init.defined()) {
    c.copy_(init);  // broadcast (the bias of linear)
    beta = 1.0;
  }
  DISMAX_KERNEL(a.device(), gemm)(1.0, a.detach(), b.detach(), beta, c);
  return c;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_rank("matmul", a, 2, "first operand");
  check_rank("matmul", b, 2, "second operand");
  check_float_operands("matmul", {&a, &b});
  DISMAX_CHECK(a.size(1) == b.size(0), "matmul: shapes ", shape_str(a.sizes()), " and ", shape_str(b.sizes()),
               " cannot be multiplied (", a.size(1), " != ", b.size(0), ")");
  Tensor out = gemm_into(a, b);
  record_if_needed("matmul", {&a, &b}, {&out}, [&] {
    return [sa = SavedTensor(b.requires_grad() ? a : Tensor()), sb = SavedTensor(a.requires_grad() ? b : Tensor())](
               const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{self.needs_input_grad(0) ? gemm_into(g[0], sb.unpack(self).t()) : Tensor(),
                                 self.needs_input_grad(1) ? gemm_into(sa.unpack(self).t(), g[0]) : Tensor()};
    };
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_rank("linear", x, 2, "input");
  check_rank("linear", weight, 2, "weight");
  check_float_operands("linear", {&x, &weight, &bias});
  DISMAX_CHECK(x.size(1) == weight.size(1), "linear: input ", shape_str(x.sizes()), " has ", x.size(1),
               " features but weight ", shape_str(weight.sizes()), " expects ", weight.size(1));
  if (bias.defined())
    DISMAX_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias ", shape_str(bias.sizes()),
                 " does not match weight ", shape_str(weight.sizes()));
  Tensor out = gemm_into(x, weight.t(), bias.defined() ? bias.detach() : Tensor());
  record_if_needed("linear", {&x, &weight, &bias}, {&out}, [&] {
    return [sx = SavedTensor(weight.requires_grad() ? x : Tensor()), sw = SavedTensor(weight)](
               const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{self.needs_input_grad(0) ? gemm_into(g[0], sw.unpack(self)) : Tensor(),
                                 self.needs_input_grad(1) ? gemm_into(g[0].t(), sx.unpack(self)) : Tensor(),
                                 self.needs_input_grad(2) ? sum(g[0], {0}) : Tensor()};
    };
  });
  return out;
}

}  // namespace dismax
