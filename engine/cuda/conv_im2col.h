// The convolution's matrix form on CUDA, for graphs no cuDNN engine runs (float64 on GPUs whose cuDNN has
// no double-precision engine): im2col unfolds one image into the (C*R*S, P*Q) matrix whose product with
// the (K, C*R*S) filter matrix is the output; col2im folds such a matrix back, summing overlaps.
#pragma once

#include "engine/kernels.h"

namespace dismax::cuda {

struct ConvGeometry {
  int64_t C, H, W;  // one input image
  int64_t R, S;     // filter
  int64_t P, Q;     // one output image
  Conv2dArgs args;
};

// col (C*R*S, P*Q), contiguous = the patches of image `n` of x (N, C, H, W contiguous); padding reads 0.
void im2col(const Tensor& x, int64_t n, const ConvGeometry& g, Tensor& col);
// Image `n` of grad_x (N, C, H, W contiguous) = the sum, at every input pixel, of the entries of col
// (C*R*S, P*Q) that im2col would have read from it. Overwrites that image.
void col2im(const Tensor& col, const ConvGeometry& g, int64_t n, Tensor& grad_x);

}  // namespace dismax::cuda
