// Parameter initialisers with PyTorch's formulas; each draws from an explicit Generator.
#pragma once

#include "engine/generator.h"
#include "engine/tensor.h"

namespace dismax::init {

// fan_in / fan_out of a weight (out, in, kh, kw) or (out, in).
int64_t fan_in(const Tensor& weight);
int64_t fan_out(const Tensor& weight);

// Normal(0, sqrt(2 / fan_out)): kaiming_normal_(mode="fan_out", nonlinearity="relu").
void kaiming_normal_fan_out(Tensor& weight, Generator& gen);
// PyTorch's default Conv2d/Linear weight init, kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void default_weight(Tensor& weight, Generator& gen);
// PyTorch's default Conv2d/Linear bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void default_bias(Tensor& bias, int64_t fan_in, Generator& gen);
void uniform(Tensor& t, Generator& gen, double low, double high);
void normal(Tensor& t, Generator& gen, double mean, double std);
void constant(Tensor& t, double value);

}  // namespace dismax::init
