#include "models/resnet.h"

#include "engine/ops.h"

namespace dismax {

namespace {
std::vector<std::shared_ptr<Sequential>> make_stages(Module& owner, int64_t in_planes, const std::vector<int64_t>& blocks,
                                                     const std::vector<int64_t>& widths, Generator& gen,
                                                     const std::string& shortcut_name) {
  DISMAX_CHECK(!blocks.empty() && blocks.size() == widths.size(), owner.type_name(), ": ", blocks.size(),
               " stage block counts for ", widths.size(), " widths");
  std::vector<std::shared_ptr<Sequential>> stages;
  for (size_t s = 0; s < blocks.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      stage->push_back(std::make_shared<BasicBlock>(in_planes, widths[s], stride, gen, shortcut_name));
      in_planes = widths[s];
    }
    stages.push_back(stage);
  }
  return stages;
}
}  // namespace

CifarResNet::CifarResNet(const std::string& arch, std::vector<int64_t> blocks, std::vector<int64_t> widths,
                         int64_t num_classes, Generator& gen, int64_t in_channels)
    : Model(arch, num_classes) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, widths[0], 3, gen, 1, 1, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(widths[0]));
  stages_ = make_stages(*this, widths[0], blocks, widths, gen, "shortcut");
  for (size_t s = 0; s < stages_.size(); ++s) register_module("layer" + std::to_string(s + 1), stages_[s]);
  init_backbone(*this, gen);
  zero_init_last_bn(*this);
  add_linear_head("classifier", widths.back(), gen);
}

Tensor CifarResNet::features(const Tensor& x) {
  Tensor h = relu(bn1_->forward(conv1_->forward(x)));
  for (auto& stage : stages_) h = stage->forward(h);
  return global_avg_pool2d(h);
}

ImageNetResNet::ImageNetResNet(const std::string& arch, std::vector<int64_t> blocks, std::vector<int64_t> widths,
                               int64_t num_classes, Generator& gen, int64_t in_channels)
    : Model(arch, num_classes) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, widths[0], 7, gen, 2, 3, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(widths[0]));
  stages_ = make_stages(*this, widths[0], blocks, widths, gen, "downsample");
  for (size_t s = 0; s < stages_.size(); ++s) register_module("layer" + std::to_string(s + 1), stages_[s]);
  init_backbone(*this, gen);
  zero_init_last_bn(*this);
  add_linear_head("fc", widths.back(), gen);
}

Tensor ImageNetResNet::features(const Tensor& x) {
  Tensor h = max_pool2d(relu(bn1_->forward(conv1_->forward(x))), 3, 2, 1);
  for (auto& stage : stages_) h = stage->forward(h);
  return global_avg_pool2d(h);
}

}  // namespace dismax
