#include "layers/conv2d.h"

#include "layers/init.h"

namespace dismax {

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, Generator& gen, int64_t s, int64_t p, bool with_bias)
    : in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p) {
  DISMAX_CHECK(in > 0 && out > 0 && k > 0 && s > 0 && p >= 0, "Conv2d(", in, ", ", out, ", kernel ", k, ", stride ",
               s, ", padding ", p, "): invalid configuration");
  weight = register_parameter("weight", Tensor::empty({out, in, k, k}));
  init::default_weight(weight, gen);
  if (with_bias) {
    bias = register_parameter("bias", Tensor::empty({out}));
    init::default_bias(bias, in * k * k, gen);
  }
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, {stride, padding}); }

std::string Conv2d::extra_repr() const {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels) + ", kernel_size=" +
         std::to_string(kernel_size) + ", stride=" + std::to_string(stride) + ", padding=" + std::to_string(padding) +
         (bias.defined() ? "" : ", bias=False");
}

}  // namespace dismax
