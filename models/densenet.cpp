#include "models/densenet.h"

#include <cmath>

#include "engine/ops.h"

namespace dismax {

namespace {

class BottleneckLayer : public Module {
 public:
  BottleneckLayer(int64_t in_planes, int64_t growth, Generator& gen) {
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(in_planes));
    conv1 = register_module("conv1", std::make_shared<Conv2d>(in_planes, 4 * growth, 1, gen, 1, 0, false));
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(4 * growth));
    conv2 = register_module("conv2", std::make_shared<Conv2d>(4 * growth, growth, 3, gen, 1, 1, false));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = conv1->forward(bn1->forward_add_relu(x, Tensor()));
    y = conv2->forward(bn2->forward_add_relu(y, Tensor()));
    return cat({x, y}, 1);
  }
  std::string type_name() const override { return "BottleneckBlock"; }
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Conv2d> conv1, conv2;
};

class Transition : public Module {
 public:
  Transition(int64_t in_planes, int64_t out_planes, Generator& gen) {
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(in_planes));
    conv1 = register_module("conv1", std::make_shared<Conv2d>(in_planes, out_planes, 1, gen, 1, 0, false));
  }
  Tensor forward(const Tensor& x) override { return avg_pool2d(conv1->forward(bn1->forward_add_relu(x, Tensor())), 2, 2); }
  std::string type_name() const override { return "TransitionBlock"; }
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<Conv2d> conv1;
};

// DenseBlock: its layers live in a Sequential named "layer" (block1.layer.0.bn1.weight, ...).
class DenseBlock : public Module {
 public:
  DenseBlock(int64_t layers, int64_t in_planes, int64_t growth, Generator& gen) {
    layer = register_module("layer", std::make_shared<Sequential>());
    for (int64_t i = 0; i < layers; ++i) layer->push_back(std::make_shared<BottleneckLayer>(in_planes + i * growth, growth, gen));
  }
  Tensor forward(const Tensor& x) override { return layer->forward(x); }
  std::string type_name() const override { return "DenseBlock"; }
  std::shared_ptr<Sequential> layer;
};

}  // namespace

DenseNet::DenseNet(const std::string& arch, int64_t depth, int64_t growth, double reduction, int64_t num_classes,
                   Generator& gen, int64_t in_channels)
    : Model(arch, num_classes) {
  DISMAX_CHECK(depth >= 10 && (depth - 4) % 6 == 0, arch, ": DenseNet-BC depth must be 6n+4, got ", depth);
  const int64_t n = (depth - 4) / 6;  // bottleneck layers per block
  int64_t planes = 2 * growth;
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, planes, 3, gen, 1, 1, false));
  for (int b = 1; b <= 3; ++b) {
    blocks_.push_back(register_module("block" + std::to_string(b), std::make_shared<DenseBlock>(n, planes, growth, gen)));
    planes += n * growth;
    if (b < 3) {
      const int64_t out = static_cast<int64_t>(std::floor(planes * reduction));
      blocks_.push_back(register_module("trans" + std::to_string(b), std::make_shared<Transition>(planes, out, gen)));
      planes = out;
    }
  }
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  init_backbone(*this, gen);
  add_linear_head("classifier", planes, gen);
}

Tensor DenseNet::features(const Tensor& x) {
  Tensor h = conv1_->forward(x);
  for (auto& b : blocks_) h = b->forward(h);
  return global_avg_pool2d(bn1_->forward_add_relu(h, Tensor()));
}

}  // namespace dismax
