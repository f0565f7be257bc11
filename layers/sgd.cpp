#include "layers/sgd.h"

#include <algorithm>
#include <map>

#include "engine/grad_mode.h"
#include "engine/kernels.h"

namespace dismax {

SGD::SGD(const NamedTensors& parameters, SgdOptions options) : options_(options) {
  DISMAX_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0, "SGD: lr ", options.lr,
               ", momentum ", options.momentum, ", weight_decay ", options.weight_decay, " must be >= 0");
  DISMAX_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
               "SGD: Nesterov momentum requires momentum > 0 and dampening 0");
  for (const auto& [name, p] : parameters)
    if (p.requires_grad()) slots_.push_back({name, p, Tensor()});
}

std::vector<std::string> no_decay_parameter_names(const NamedTensors& parameters) {
  std::vector<std::string> names;
  for (const auto& [name, p] : parameters) {
    const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (p.requires_grad() && (p.dim() <= 1 || bias)) names.push_back(name);
  }
  return names;
}

void SGD::exclude_from_weight_decay(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto it = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return s.name == name; });
    DISMAX_CHECK(it != slots_.end(), "SGD: no trainable parameter '", name, "' to exclude from weight decay");
    it->decay = false;
  }
}

std::vector<std::string> SGD::excluded_from_weight_decay() const {
  std::vector<std::string> out;
  for (const Slot& s : slots_)
    if (!s.decay) out.push_back(s.name);
  return out;
}

// All parameters of one device and weight-decay group are updated by one sgd_update_many call (a single
// launch on a GPU).
void SGD::step() {
  NoGradGuard guard;
  struct Group {
    Device device;
    bool decay;
    std::vector<SgdTensors> tensors;
  };
  std::vector<Group> by_device;
  for (Slot& s : slots_) {
    const Tensor& grad = s.param.grad();
    if (!grad.defined()) continue;
    DISMAX_CHECK(grad.sizes() == s.param.sizes() && grad.device() == s.param.device(), "SGD: gradient ",
                 grad.describe(), " does not match parameter '", s.name, "' ", s.param.describe());
    DISMAX_CHECK(s.param.is_contiguous(), "SGD: parameter '", s.name, "' is not contiguous");
    bool first = false;
    if (options_.momentum != 0.0 && !s.momentum_buffer.defined()) {
      s.momentum_buffer = Tensor::empty_like(s.param);
      first = true;
    }
    auto group = std::find_if(by_device.begin(), by_device.end(),
                              [&](const Group& g) { return g.device == s.param.device() && g.decay == s.decay; });
    if (group == by_device.end()) group = by_device.insert(by_device.end(), {s.param.device(), s.decay, {}});
    group->tensors.push_back({s.param, grad.contiguous().to(s.param.dtype()), s.momentum_buffer, first});
  }
  for (Group& g : by_device) {
    const SgdArgs args{options_.lr, options_.momentum, options_.dampening, g.decay ? options_.weight_decay : 0.0,
                       options_.nesterov, false};
    DISMAX_KERNEL(g.device, sgd_update_many)(g.tensors, args);
    for (SgdTensors& t : g.tensors) t.param.storage()->bump_version();
  }
  ++steps_;
}

void SGD::zero_grad() {
  for (Slot& s : slots_) s.param.zero_grad();
}

NamedTensors SGD::state() const {
  NamedTensors out;
  for (const Slot& s : slots_)
    if (s.momentum_buffer.defined()) out.emplace_back("momentum_buffer." + s.name, s.momentum_buffer);
  return out;
}

void SGD::load_state(const NamedTensors& state, int64_t step_count, const std::string& source) {
  std::map<std::string, Slot*> by_name;
  for (Slot& s : slots_) by_name["momentum_buffer." + s.name] = &s;
  for (Slot& s : slots_) s.momentum_buffer = Tensor();
  for (const auto& [name, t] : state) {
    auto it = by_name.find(name);
    DISMAX_CHECK(it != by_name.end(), source, ": optimizer state '", name, "' matches no parameter");
    Slot& s = *it->second;
    DISMAX_CHECK(t.sizes() == s.param.sizes(), source, ": optimizer state '", name, "' has shape ",
                 shape_str(t.sizes()), ", parameter has ", shape_str(s.param.sizes()));
    s.momentum_buffer = t.detach().to(s.param.dtype()).to(s.param.device()).clone();
  }
  DISMAX_CHECK(step_count >= 0, source, ": optimizer step count ", step_count, " is negative");
  // After a step with momentum every parameter has its buffer; a state without one would silently restart
  // that parameter's momentum from zero.
  if (options_.momentum != 0.0 && step_count > 0)
    for (const Slot& s : slots_)
      DISMAX_CHECK(s.momentum_buffer.defined(), source, ": optimizer state has no 'momentum_buffer.", s.name,
                   "' although ", step_count, " steps with momentum were taken");
  steps_ = step_count;
}

}  // namespace dismax
