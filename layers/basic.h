// Parameter-free layers: ReLU, MaxPool2d, AvgPool2d, GlobalAvgPool2d ((N,C,H,W) -> (N,C)), Flatten,
// Identity, and Dropout (with its own generator, seeded from the one given at construction).
#pragma once

#include "engine/generator.h"
#include "layers/module.h"

namespace dismax {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int64_t kernel_size, int64_t stride, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  const int64_t kernel_size, stride, padding;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(int64_t kernel_size, int64_t stride, int64_t padding = 0, bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  const int64_t kernel_size, stride, padding;
  const bool count_include_pad;
};

class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GlobalAvgPool2d"; }
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;  // (N, ...) -> (N, -1)
  std::string type_name() const override { return "Flatten"; }
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

class Dropout : public Module {
 public:
  Dropout(double p, Generator& gen);
  Tensor forward(const Tensor& x) override;  // identity in eval mode or when p == 0
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  Generator& generator() { return gen_; }
  const double p;

 private:
  Generator gen_;
};

}  // namespace dismax
