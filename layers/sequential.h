// Sequential: children named "0", "1", ... applied in order.
#pragma once

#include <memory>
#include <vector>

#include "layers/module.h"

namespace dismax {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  void push_back(std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return items_.size(); }
  Module& operator[](size_t i) const { return *items_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> items_;
};

}  // namespace dismax
