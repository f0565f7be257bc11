#include "models/resnet.h"

#include "engine/ops.h"

namespace dismax {

ResNet::ResNet(const std::string& arch, Stem stem, std::vector<int64_t> blocks, std::vector<int64_t> widths,
               int64_t num_classes, Generator& gen, int64_t in_channels)
    : Model(arch, num_classes), stem_(stem) {
  DISMAX_CHECK(!blocks.empty() && blocks.size() == widths.size(), arch, ": ", blocks.size(),
               " stage block counts for ", widths.size(), " widths");
  const bool cifar = stem == Stem::Cifar;
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, widths[0], cifar ? 3 : 7, gen, cifar ? 1 : 2,
                                                             cifar ? 1 : 3, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(widths[0]));
  int64_t in_planes = widths[0];
  for (size_t s = 0; s < blocks.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      stage->push_back(std::make_shared<BasicBlock>(in_planes, widths[s], stride, gen, cifar ? "shortcut" : "downsample"));
      in_planes = widths[s];
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  init_backbone(*this, gen);
  zero_init_last_bn(*this);
  add_linear_head(cifar ? "classifier" : "fc", widths.back(), gen);
}

Tensor ResNet::features(const Tensor& x) {
  Tensor h = bn1_->forward_add_relu(conv1_->forward(x), Tensor());
  if (stem_ == Stem::ImageNet) h = max_pool2d(h, 3, 2, 1);
  for (auto& stage : stages_) h = stage->forward(h);
  return global_avg_pool2d(h);
}

}  // namespace dismax
