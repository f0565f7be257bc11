// Module: the base of every layer and model, as PyTorch users know it. Parameters, buffers and children
// are registered by name in order; dotted names (`layer1.0.conv1.weight`) and state_dict order follow
// PyTorch (own parameters, own buffers, then each child), so weights map one to one to a PyTorch
// state_dict of the same architecture.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace dismax {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  virtual std::string type_name() const = 0;           // "Conv2d"
  virtual std::string extra_repr() const { return ""; }  // "3, 64, kernel_size=3, stride=1"
  // Brings buffers that a module updates lazily up to date; every read of the buffers through this class
  // (named_buffers, state_dict, to, load_state_dict) calls it first.
  virtual void sync_buffers() const {}

  // Training mode for this module and all children (BatchNorm and Dropout read it).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;  // parameters and buffers in PyTorch order
  std::vector<std::pair<std::string, Module*>> named_children() const;
  std::vector<std::pair<std::string, Module*>> named_modules();  // pre-order, this module first as ""
  // Looks up a direct child by name (nullptr if absent).
  Module* child(const std::string& name) const;

  // Copies `state` into the registered tensors (values converted to each tensor's dtype and device).
  // strict: every registered name must be present and nothing else. Errors name `source`, the tensor
  // and both shapes.
  void load_state_dict(const NamedTensors& state, bool strict = true, const std::string& source = "state_dict");

  int64_t parameter_count(bool trainable_only = false) const;
  std::string summary() const;  // module tree with shapes and parameter counts
  void to(Device device);       // moves parameters and buffers in place (handles stay valid)
  void to(DType dtype);         // converts the floating parameters and buffers (e.g. float64 for gradchecks)
  void zero_grad();

 protected:
  // Registers and returns the tensor (the returned handle and the registry share the same tensor).
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Replaces a registered child (used to swap a model's head); returns the new module.
  template <class M>
  std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> module) {
    set_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void set_child(const std::string& name, std::shared_ptr<Module> module);
  void check_name(const std::string& name) const;
  void collect(const std::string& prefix, NamedTensors& out, bool params, bool buffers) const;
  void summary_lines(const std::string& name, int depth, std::string& out) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace dismax
