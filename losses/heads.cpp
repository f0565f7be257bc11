#include "losses/heads.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "engine/grad_mode.h"
#include "engine/ops.h"
#include "layers/init.h"

namespace dismax {

namespace {
std::string sizes_repr(int64_t f, int64_t c) {
  return "num_features=" + std::to_string(f) + ", num_classes=" + std::to_string(c);
}
// Always a division (exact for T = 1): reading T on the host would stall a GPU every forward.
Tensor apply_temperature(const Tensor& z, const Tensor& temperature) { return div(z, temperature); }
}  // namespace

double LossHead::temperature() const { return temperature_.item(); }

void LossHead::set_temperature(double t) {
  DISMAX_CHECK(t > 0.0 && std::isfinite(t), type_name(), ": temperature must be positive and finite, got ", t);
  NoGradGuard guard;
  temperature_.fill_(t);
}

SoftMaxHead::SoftMaxHead(int64_t f, int64_t c, Generator& gen) {
  weights = register_parameter("weights", Tensor::empty({c, f}));
  init::uniform(weights, gen, -std::sqrt(1.0 / f), std::sqrt(1.0 / f));
  bias = register_parameter("bias", Tensor::zeros({c}));
  temperature_ = register_parameter("temperature", Tensor::ones({1}), false);
}
Tensor SoftMaxHead::forward(const Tensor& x) { return apply_temperature(linear(x, weights, bias), temperature_); }
std::string SoftMaxHead::extra_repr() const { return sizes_repr(weights.size(1), weights.size(0)); }

IsoMaxHead::IsoMaxHead(int64_t f, int64_t c) {
  prototypes = register_parameter("prototypes", Tensor::zeros({c, f}));
  temperature_ = register_parameter("temperature", Tensor::ones({1}), false);
}
Tensor IsoMaxHead::forward(const Tensor& x) { return apply_temperature(neg(cdist(x, prototypes)), temperature_); }
std::string IsoMaxHead::extra_repr() const { return sizes_repr(prototypes.size(1), prototypes.size(0)); }

IsoMaxPlusHead::IsoMaxPlusHead(int64_t f, int64_t c, Generator& gen) {
  prototypes = register_parameter("prototypes", Tensor::empty({c, f}));
  init::normal(prototypes, gen, 0.0, 1.0);
  distance_scale = register_parameter("distance_scale", Tensor::ones({1}));
  temperature_ = register_parameter("temperature", Tensor::ones({1}), false);
}
Tensor IsoMaxPlusHead::forward(const Tensor& x) {
  const Tensor d = cdist(normalize(x), normalize(prototypes));
  return apply_temperature(neg(mul(abs(distance_scale), d)), temperature_);
}
std::string IsoMaxPlusHead::extra_repr() const { return sizes_repr(prototypes.size(1), prototypes.size(0)); }
double IsoMaxPlusHead::distance_scale_value() const { return distance_scale.item(); }

DisMaxHead::DisMaxHead(int64_t f, int64_t c, Generator& gen) {
  distance_scale = register_parameter("distance_scale", Tensor::ones({1}));
  prototypes = register_parameter("prototypes", Tensor::empty({c, f}));
  init::normal(prototypes, gen, 0.0, 1.0);
  temperature_ = register_parameter("temperature", Tensor::ones({1}), false);
  validationset_available = register_parameter("validationset_available", Tensor::zeros({1}, DType::UInt8), false);
  precomputed_thresholds = register_parameter(
      "precomputed_thresholds", Tensor::full({2, 25}, std::numeric_limits<double>::quiet_NaN()), false);
}
Tensor DisMaxHead::forward(const Tensor& x) {
  const Tensor d = cdist(normalize(x), normalize(prototypes)) * (1.0 / std::sqrt(2.0));
  const Tensor D = mul(abs(distance_scale), d);
  return apply_temperature(neg(add(D, mean(D, {1}, true))), temperature_);
}
std::string DisMaxHead::extra_repr() const { return sizes_repr(prototypes.size(1), prototypes.size(0)); }
double DisMaxHead::distance_scale_value() const { return distance_scale.item(); }

}  // namespace dismax
