// Conv2d: weight (out, in, k, k) and optional bias (out), as torch.nn.Conv2d (groups = dilation = 1).
#pragma once

#include "engine/generator.h"
#include "engine/ops.h"
#include "layers/module.h"

namespace dismax {

class Conv2d : public Module {
 public:
  // PyTorch's default init (kaiming-uniform weight, uniform bias) from `gen`.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen, int64_t stride = 1,
         int64_t padding = 0, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;

  Tensor weight;  // (out, in, k, k)
  Tensor bias;    // (out) or undefined
  const int64_t in_channels, out_channels, kernel_size, stride, padding;
};

}  // namespace dismax
