// Linear: y = x W^T + b with weight (out, in) and bias (out), as torch.nn.Linear.
#pragma once

#include "engine/generator.h"
#include "layers/module.h"

namespace dismax {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
  Tensor forward(const Tensor& x) override;  // (B, in) -> (B, out)
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  Tensor weight, bias;
  const int64_t in_features, out_features;
};

}  // namespace dismax
