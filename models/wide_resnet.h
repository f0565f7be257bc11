// WideResNet (SPEC §3.4): every conv has a bias; pre-activation blocks BN-ReLU-conv3x3-Dropout-BN-ReLU-
// conv3x3(stride) + shortcut taken from the raw block input (1x1 conv with bias when the shape changes);
// final BN with momentum 0.9, ReLU, global average pool. depth 28, widen 10: F = 640.
#pragma once

#include "models/blocks.h"
#include "models/model.h"

namespace dismax {

class WideResNet : public Model {
 public:
  WideResNet(const std::string& arch, int64_t depth, double widen_factor, int64_t num_classes, Generator& gen,
             int64_t in_channels = 3, double dropout = 0.0);
  Tensor features(const Tensor& x) override;
  std::string type_name() const override { return "Wide_ResNet"; }

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
  std::shared_ptr<BatchNorm2d> bn1_;
};

}  // namespace dismax
