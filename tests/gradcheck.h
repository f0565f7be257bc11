// Finite-difference gradient checking in float64: compares autograd's gradient of sum(w * f(inputs)),
// for a fixed random w, with central differences, element by element.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd/node.h"
#include "engine/ops.h"

namespace dismax::testing {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

inline Tensor randn64(const Shape& shape, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  Generator gen(seed);
  return Tensor::randn(shape, gen, DType::Float64) * scale + shift;
}

inline Tensor uniform64(const Shape& shape, uint64_t seed, double low, double high) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, DType::Float64) * (high - low) + low;
}

inline double weighted_sum(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& w) {
  NoGradGuard guard;
  return sum(mul(f(inputs), w)).item();
}

// Checks every element of every input that requires grad. Returns the largest error seen (for messages).
inline void check_gradients(const std::string& name, const Fn& f, std::vector<Tensor> inputs, double eps = 1e-6,
                            double atol = 1e-6, double rtol = 1e-5) {
  for (Tensor& t : inputs)  // fresh leaves: callers reuse their tensors across checks
    if (t.defined() && is_floating(t.dtype())) t = t.detach().clone().set_requires_grad(true);
  const Tensor y = f(inputs);
  REQUIRE_MESSAGE(y.dtype() == DType::Float64, name << ": gradient checks run in float64");
  Generator gen(1234);
  const Tensor w = Tensor::randn(y.sizes(), gen, DType::Float64);
  sum(mul(y, w)).backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    REQUIRE_MESSAGE(x.grad().defined(), name << ": input " << k << " received no gradient");
    const auto analytic = x.grad().to_vector<double>();
    Tensor data = x.detach();
    double* p = data.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = p[i];
      p[i] = saved + eps;
      const double up = weighted_sum(f, inputs, w);
      p[i] = saved - eps;
      const double down = weighted_sum(f, inputs, w);
      p[i] = saved;
      const double numeric = (up - down) / (2 * eps);
      const double err = std::abs(numeric - analytic[i]);
      if (!(err <= atol + rtol * std::abs(numeric))) {
        FAIL_CHECK(name << ": input " << k << " element " << i << ": autograd " << analytic[i] << ", numeric "
                        << numeric);
        return;
      }
    }
  }
}

}  // namespace dismax::testing
