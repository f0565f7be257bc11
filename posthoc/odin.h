// ODIN (Liang et al. 2018), as OpenOOD v1.5 computes it: the input moved by `noise` against the sign of the
// gradient of the cross-entropy of output / T at the network's own prediction (the sign divided by each
// channel's normalisation std, as the input is normalised), then score = max_j softmax(f(x~) / T)_j.
// Needs one forward and backward pass per batch on top of the shared forward pass.
#pragma once

#include <vector>

#include "engine/tensor.h"
#include "layers/module.h"

namespace dismax {

// `images` (N, C, H, W) normalised, on the model's device; `channel_std` has C entries. Returns (N) float64
// on the host. The model's parameter gradients are left cleared.
Tensor odin_scores(Module& model, const Tensor& images, const std::vector<float>& channel_std, double temperature,
                   double noise);

}  // namespace dismax
