// SGD with momentum, dampening, weight decay and Nesterov in PyTorch's exact update order (SPEC §5.1):
// g = grad + wd * p; buf = g (first step) or momentum * buf + (1 - dampening) * g; g = g + momentum * buf
// (Nesterov) or buf; p -= lr * g. Parameters without a gradient are skipped. One fused kernel per tensor.
#pragma once

#include <string>
#include <vector>

#include "layers/module.h"

namespace dismax {

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

// timm's rule for the no-decay group: every parameter of at most one dimension (BatchNorm weights and
// biases, all biases, DisMax's distance scale) and every name ending in ".bias".
std::vector<std::string> no_decay_parameter_names(const NamedTensors& parameters);

class SGD {
 public:
  SGD(const NamedTensors& parameters, SgdOptions options);
  void step();
  void zero_grad();
  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }
  const SgdOptions& options() const { return options_; }
  int64_t step_count() const { return steps_; }

  // Parameter groups: the named parameters take no weight decay (timm's no-decay group); every name must be
  // one of the optimizer's parameters.
  void exclude_from_weight_decay(const std::vector<std::string>& names);
  std::vector<std::string> excluded_from_weight_decay() const;

  // Momentum buffers as "momentum_buffer.<parameter name>" (only those that exist), for checkpoints.
  NamedTensors state() const;
  // Restores buffers and the step count; names must match this optimizer's parameters (errors name `source`).
  void load_state(const NamedTensors& state, int64_t step_count, const std::string& source);

 private:
  struct Slot {
    std::string name;
    Tensor param;
    Tensor momentum_buffer;  // undefined until the first step that saw a gradient
    bool decay = true;
  };
  std::vector<Slot> slots_;
  SgdOptions options_;
  int64_t steps_ = 0;
};

}  // namespace dismax
