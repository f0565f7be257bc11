// ResNets. CifarResNet: 3x3 stem (no max-pool), BasicBlock stages with projection shortcuts, global
// average pool, head `classifier` (ResNet34 [3,4,6,3] of SPEC §3.3, ResNet18 [2,2,2,2], ResNet-20-style
// 16/32/64 [3,3,3]). ImageNetResNet: timm's resnet18 (SPEC §3.5): 7x7/2 stem, 3x3/2 max-pool,
// `downsample` shortcuts, head `fc`. Both zero-initialise the last BN gamma of every block.
#pragma once

#include <vector>

#include "models/blocks.h"
#include "models/model.h"

namespace dismax {

class CifarResNet : public Model {
 public:
  CifarResNet(const std::string& arch, std::vector<int64_t> blocks, std::vector<int64_t> widths, int64_t num_classes,
              Generator& gen, int64_t in_channels = 3);
  Tensor features(const Tensor& x) override;
  std::string type_name() const override { return "CifarResNet"; }

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
};

class ImageNetResNet : public Model {
 public:
  ImageNetResNet(const std::string& arch, std::vector<int64_t> blocks, std::vector<int64_t> widths,
                 int64_t num_classes, Generator& gen, int64_t in_channels = 3);
  Tensor features(const Tensor& x) override;
  std::string type_name() const override { return "ImageNetResNet"; }

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
};

}  // namespace dismax
