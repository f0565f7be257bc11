#include "engine/ops/op_support.h"

namespace dismax {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_defined("dropout", x, "input");
  DISMAX_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability ", p, " is outside [0, 1]");
  if (!training || p == 0.0) return x;
  Tensor mask = Tensor::empty(x.sizes(), options_of(x));
  DISMAX_KERNEL(x.device(), bernoulli)(mask, gen, 1.0 - p);
  if (p < 1.0) mask.mul_(1.0 / (1.0 - p));
  return mul(x, mask);
}

}  // namespace dismax
