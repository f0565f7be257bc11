#include "engine/ops/op_support.h"

namespace dismax {

namespace {
Tensor softmax_family(bool log, const Tensor& x, int64_t dim) {
  const char* name = log ? "log_softmax" : "softmax";
  check_defined(name, x, "input");
  check_float_operands(name, {&x});
  const int64_t d = wrap_dim(dim, x.dim(), name);
  const Tensor in = x.contiguous().detach();
  Tensor out = Tensor::empty(x.sizes(), options_of(x));
  if (x.dim() == 0) {
    out.fill_(log ? 0.0 : 1.0);
  } else {
    DISMAX_KERNEL(x.device(), softmax)(in, d, log, out);
  }
  record_if_needed(name, {&x}, {&out}, [&] {
    return [sy = SavedTensor(out), d, log](const std::vector<Tensor>& g, const Node& self) {
      const Tensor& y = sy.unpack(self);
      Tensor gx = Tensor::empty(y.sizes(), options_of(y));
      if (y.dim() == 0) {
        gx.zero_();
      } else {
        DISMAX_KERNEL(y.device(), softmax_backward)(g[0], y, d, log, gx);
      }
      return std::vector<Tensor>{gx};
    };
  });
  return out;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_family(false, x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_family(true, x, dim); }

}  // namespace dismax
