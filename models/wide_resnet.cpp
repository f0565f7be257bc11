#include "models/wide_resnet.h"

#include <cmath>

#include "engine/ops.h"

namespace dismax {

namespace {

class WideBlock : public Module {
 public:
  WideBlock(int64_t in_planes, int64_t planes, int64_t stride, double dropout, Generator& gen) {
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(in_planes));
    conv1 = register_module("conv1", std::make_shared<Conv2d>(in_planes, planes, 3, gen, 1, 1, true));
    drop = register_module("dropout", std::make_shared<Dropout>(dropout, gen));
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
    conv2 = register_module("conv2", std::make_shared<Conv2d>(planes, planes, 3, gen, stride, 1, true));
    shortcut = register_module("shortcut", std::make_shared<Sequential>());
    if (stride != 1 || in_planes != planes)
      shortcut->push_back(std::make_shared<Conv2d>(in_planes, planes, 1, gen, stride, 0, true));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = drop->forward(conv1->forward(bn1->forward_add_relu(x, Tensor())));
    y = conv2->forward(bn2->forward_add_relu(y, Tensor()));
    return y + shortcut->forward(x);
  }
  std::string type_name() const override { return "wide_basic"; }
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<Dropout> drop;
  std::shared_ptr<Sequential> shortcut;
};

}  // namespace

WideResNet::WideResNet(const std::string& arch, int64_t depth, double widen, int64_t num_classes, Generator& gen,
                       int64_t in_channels, double dropout)
    : Model(arch, num_classes) {
  DISMAX_CHECK(depth >= 10 && (depth - 4) % 6 == 0, arch, ": Wide-ResNet depth must be 6n+4, got ", depth);
  const int64_t n = (depth - 4) / 6;
  const int64_t widths[] = {16, scaled(16, widen), scaled(32, widen), scaled(64, widen)};
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, widths[0], 3, gen, 1, 1, true));
  int64_t in_planes = widths[0];
  for (int s = 0; s < 3; ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < n; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      stage->push_back(std::make_shared<WideBlock>(in_planes, widths[s + 1], stride, dropout, gen));
      in_planes = widths[s + 1];
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(in_planes, 0.9));
  init_backbone(*this, gen);
  add_linear_head("classifier", in_planes, gen);
}

Tensor WideResNet::features(const Tensor& x) {
  Tensor h = conv1_->forward(x);
  for (auto& s : stages_) h = s->forward(h);
  return global_avg_pool2d(bn1_->forward_add_relu(h, Tensor()));
}

}  // namespace dismax
