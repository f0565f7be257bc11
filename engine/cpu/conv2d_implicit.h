// Float32 convolution as implicit GEMM (AVX-512 GEMM path): the GEMM packs its column operand straight
// from the image (conv_im2col.h) and writes its result in NCHW itself, so no column matrix is ever stored
// and the whole batch is one GEMM. The input gradient is the forward convolution of grad_y with the
// flipped, transposed kernel: one convolution for stride 1, one per phase of the input positions for
// larger strides (sub-pixel decomposition), so there is no col2im either.
//
// Shapes: x (N, C, H, W) as `shape` says, w (K, C, R, S), y and grad_y (N, K, P, Q); all contiguous.
#pragma once

#include <cstdint>

#include "engine/cpu/conv_im2col.h"

namespace dismax::cpu {

bool conv2d_implicit_supported(const ConvShape& shape, int64_t K);

// y = conv(x, w) + bias (bias optional: null).
void conv2d_implicit_forward(const ConvShape& shape, int64_t K, const float* x, const float* w,
                             const float* bias, float* y);

// gw (K, C*R*S) = grad_y (K, N*P*Q) * col(x)^T.
void conv2d_implicit_grad_weight(const ConvShape& shape, int64_t K, const float* gy, const float* x,
                                 float* gw);

// Whether conv2d_implicit_grad_input suits the shape: false for few input channels, where it would be a
// GEMM of too few rows and the explicit columns are faster.
bool conv2d_implicit_grad_input_preferred(const ConvShape& shape);
void conv2d_implicit_grad_input(const ConvShape& shape, int64_t K, const float* gy, const float* w,
                                float* gx);

}  // namespace dismax::cpu
