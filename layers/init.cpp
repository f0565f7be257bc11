#include "layers/init.h"

#include <cmath>

#include "engine/grad_mode.h"

namespace dismax::init {

int64_t fan_in(const Tensor& w) {
  DISMAX_CHECK(w.dim() >= 2, "init: fan_in needs a weight with at least 2 dims, got ", w.describe());
  return w.numel() / w.size(0);
}

int64_t fan_out(const Tensor& w) {
  DISMAX_CHECK(w.dim() >= 2, "init: fan_out needs a weight with at least 2 dims, got ", w.describe());
  return w.numel() / w.size(1);
}

void uniform(Tensor& t, Generator& gen, double low, double high) {
  NoGradGuard guard;
  t.uniform_(gen, low, high);
}

void normal(Tensor& t, Generator& gen, double mean, double std) {
  NoGradGuard guard;
  t.normal_(gen, mean, std);
}

void constant(Tensor& t, double value) {
  NoGradGuard guard;
  t.fill_(value);
}

void kaiming_normal_fan_out(Tensor& weight, Generator& gen) {
  normal(weight, gen, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out(weight))));
}

void default_weight(Tensor& weight, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(weight)));
  uniform(weight, gen, -bound, bound);
}

void default_bias(Tensor& bias, int64_t fan_in, Generator& gen) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform(bias, gen, -bound, bound);
}

}  // namespace dismax::init
