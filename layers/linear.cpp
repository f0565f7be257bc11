#include "layers/linear.h"

#include "engine/ops.h"
#include "layers/init.h"

namespace dismax {

Linear::Linear(int64_t in, int64_t out, Generator& gen, bool with_bias) : in_features(in), out_features(out) {
  DISMAX_CHECK(in > 0 && out > 0, "Linear(", in, ", ", out, "): sizes must be positive");
  weight = register_parameter("weight", Tensor::empty({out, in}));
  init::default_weight(weight, gen);
  if (with_bias) {
    bias = register_parameter("bias", Tensor::empty({out}));
    init::default_bias(bias, in, gen);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         (bias.defined() ? "" : ", bias=False");
}

}  // namespace dismax
