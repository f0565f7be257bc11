// DenseNet-BC (SPEC §3.2, the original's DenseNet3): 3x3 stem without BN/ReLU, three dense blocks of
// bottleneck layers (BN-ReLU-1x1(4k)-BN-ReLU-3x3(k), concatenated after the input), transitions with
// compression, final BN-ReLU and global average pool. depth 100, growth 12, reduction 0.5: F = 342.
#pragma once

#include "models/blocks.h"
#include "models/model.h"

namespace dismax {

class DenseNet : public Model {
 public:
  DenseNet(const std::string& arch, int64_t depth, int64_t growth_rate, double reduction, int64_t num_classes,
           Generator& gen, int64_t in_channels = 3);
  Tensor features(const Tensor& x) override;
  std::string type_name() const override { return "DenseNet3"; }

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::vector<std::shared_ptr<Module>> blocks_;  // block1, trans1, block2, trans2, block3
  std::shared_ptr<BatchNorm2d> bn1_;
};

}  // namespace dismax
