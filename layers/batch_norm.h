// BatchNorm2d (also accepts (N, C) input): affine weight/bias, running_mean, running_var and
// num_batches_tracked buffers with PyTorch's names, momentum convention and eps.
#pragma once

#include "layers/module.h"

namespace dismax {

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string extra_repr() const override;

  Tensor weight, bias;                                     // gamma = 1, beta = 0
  Tensor running_mean, running_var, num_batches_tracked;  // 0, 1, 0 (int64 scalar)
  const int64_t num_features;
  const double momentum, eps;
};

}  // namespace dismax
