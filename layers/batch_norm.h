// BatchNorm2d (also accepts (N, C) input): affine weight/bias, running_mean, running_var and
// num_batches_tracked buffers with PyTorch's names, momentum convention and eps. The batch counter is
// counted on the host and added to the buffer when the buffers are read (state_dict, named_buffers,
// to, load_state_dict, batches_tracked), not by two device launches per layer and step.
#pragma once

#include "layers/module.h"

namespace dismax {

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x) + residual) in one fused op (engine's batch_norm_add_relu): the residual (x's shape) is
  // optional, the ReLU applied where `relu`.
  Tensor forward_add_relu(const Tensor& x, const Tensor& residual, bool relu = true);
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string extra_repr() const override;
  void sync_buffers() const override;
  int64_t batches_tracked() const;  // num_batches_tracked, up to date

  Tensor weight, bias;                                     // gamma = 1, beta = 0
  Tensor running_mean, running_var, num_batches_tracked;  // 0, 1, 0 (int64 scalar)
  const int64_t num_features;
  const double momentum, eps;

 private:
  mutable int64_t pending_batches_ = 0;  // training forwards not yet added to num_batches_tracked
};

}  // namespace dismax
