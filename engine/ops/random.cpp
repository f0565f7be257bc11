// Ops that draw from a Generator: dropout's mask and random permutations.
#include <utility>

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

Tensor randperm(int64_t n, Generator& gen) {
  DISMAX_CHECK(n >= 0, "randperm: n must be >= 0, got ", n);
  Tensor out = Tensor::empty({n}, DType::Int64);
  int64_t* p = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[gen.next_below(static_cast<uint64_t>(i) + 1)]);
  return out;
}

}  // namespace dismax
