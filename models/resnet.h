// ResNets of BasicBlocks with projection shortcuts and a global average pool. Two stems:
//  * Cifar (SPEC §3.3, "kuangliu" style): 3x3 conv, BN, ReLU, no max-pool; shortcuts `shortcut`, head
//    `classifier` (ResNet34 [3,4,6,3], ResNet18 [2,2,2,2], ResNet-20-style 16/32/64 [3,3,3]);
//  * ImageNet (SPEC §3.5, timm's resnet18): 7x7/2 conv, BN, ReLU, 3x3/2 max-pool; shortcuts `downsample`,
//    head `fc`.
// Both zero-initialise the last BN gamma of every block.
#pragma once

#include <vector>

#include "models/blocks.h"
#include "models/model.h"

namespace dismax {

class ResNet : public Model {
 public:
  enum class Stem { Cifar, ImageNet };
  ResNet(const std::string& arch, Stem stem, std::vector<int64_t> blocks, std::vector<int64_t> widths,
         int64_t num_classes, Generator& gen, int64_t in_channels = 3);
  Tensor features(const Tensor& x) override;
  std::string type_name() const override { return stem_ == Stem::Cifar ? "ResNet" : "timm.ResNet"; }

 private:
  Stem stem_;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
};

}  // namespace dismax
