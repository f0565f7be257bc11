// The bias parts of conv2d on CUDA, beside cuDNN's convolutions: adding the per-channel bias and its
// gradient.
#pragma once

#include "engine/tensor.h"

namespace dismax::cuda {

// y (N, K, P, Q), contiguous, += bias (K) on every image and position. Float32 or float64, one dtype.
void add_channel_bias(Tensor& y, const Tensor& bias);

// grad_bias (K) = sum of grad_y (N, K, P, Q), contiguous, over n, p and q; accumulated in double, in a fixed
// order (deterministic). Zero when N * P * Q is 0.
void channel_bias_grad(const Tensor& grad_y, Tensor& grad_bias);

}  // namespace dismax::cuda
