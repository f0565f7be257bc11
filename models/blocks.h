// Residual building blocks shared by the ResNets.
#pragma once

#include <memory>

#include "layers/basic.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/sequential.h"

namespace dismax {

// Post-activation BasicBlock: conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, + shortcut, ReLU.
// The projection shortcut (conv1x1(stride) -> BN, when the stride or width changes) is registered as
// `shortcut_name` (CIFAR: "shortcut", timm: "downsample"); an identity shortcut registers nothing
// (CIFAR registers an empty Sequential, which has no tensors either).
class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in_planes, int64_t planes, int64_t stride, Generator& gen, const std::string& shortcut_name);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Sequential> shortcut;  // null or empty for identity
};

// Kaiming-normal (fan_out) for every conv weight, gamma 1 / beta 0 for every BN, conv biases untouched.
void init_backbone(Module& root, Generator& gen);
// Zero-init of the last BN gamma of every BasicBlock (residual branch starts at 0).
void zero_init_last_bn(Module& root);

int64_t scaled(int64_t channels, double width);

}  // namespace dismax
