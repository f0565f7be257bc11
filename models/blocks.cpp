#include "models/blocks.h"

#include <cmath>

#include "engine/ops.h"
#include "layers/init.h"

namespace dismax {

int64_t scaled(int64_t channels, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(channels * width)));
}

BasicBlock::BasicBlock(int64_t in_planes, int64_t planes, int64_t stride, Generator& gen,
                       const std::string& shortcut_name) {
  conv1 = register_module("conv1", std::make_shared<Conv2d>(in_planes, planes, 3, gen, stride, 1, false));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(planes, planes, 3, gen, 1, 1, false));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (stride != 1 || in_planes != planes) {
    shortcut = register_module(shortcut_name, std::make_shared<Sequential>());
    shortcut->push_back(std::make_shared<Conv2d>(in_planes, planes, 1, gen, stride, 0, false));
    shortcut->push_back(std::make_shared<BatchNorm2d>(planes));
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  const Tensor y = bn1->forward_add_relu(conv1->forward(x), Tensor());
  return bn2->forward_add_relu(conv2->forward(y), shortcut ? shortcut->forward(x) : x);
}

void init_backbone(Module& root, Generator& gen) {
  for (auto& [name, m] : root.named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) {
      init::kaiming_normal_fan_out(conv->weight, gen);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) {
      init::constant(bn->weight, 1.0);
      init::constant(bn->bias, 0.0);
    }
  }
}

void zero_init_last_bn(Module& root) {
  for (auto& [name, m] : root.named_modules())
    if (auto* block = dynamic_cast<BasicBlock*>(m)) init::constant(block->bn2->weight, 0.0);
}

}  // namespace dismax
