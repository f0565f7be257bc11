// The weight gradient of a float32 3x3 stride-1 convolution with few channels, computed directly (AVX-512).
//
// gw[k][c][r][s] = sum over n, p, q of gy[n][k][p][q] * x[n][c][p + r - ph][q + s - pw]. As a GEMM over the
// im2col columns this is a tiny K x 9C result over a depth of N*P*Q, where packing the columns costs more than
// the arithmetic. Here x is copied once, zero-padded, channel-major (C, N, Hp, Wp), and gy into the same plane
// geometry with zeros outside its P x Q corner; then every tap (r, s) is a dot product of a gy row with the
// x row shifted by r*Wp + s, 16 positions per vector, 3 output channels x 9 taps in registers.
#pragma once

#include <cstdint>

#include "engine/cpu/conv_im2col.h"

namespace dismax::cpu {

// Whether the direct kernel takes this shape: the AVX-512 path, 3x3, stride 1, padding at most 2, planes of
// at least 14 x 14 (smaller ones waste too much of the padded plane), at most 16 input and output channels.
// Measured with bench-conv (batch 128, 2 threads, AMD EPYC Zen 4), direct against the implicit GEMM: 8->8
// at 28x28 1.0 vs 2.5 ms, 16->16 at 28x28 4.3-5.8 vs 5.9-6.3 ms, 16->16 at 14x14 1.0 vs 1.3-1.5 ms; but
// 32->32 at 14x14 4.0-5.8 vs 3.7-4.5 ms, so wider layers keep the GEMM.
bool conv2d_grad_weight_direct_supported(const ConvShape& shape, int64_t K);

// gw (K, C, 3, 3) = the weight gradient; gy (N, K, P, Q) and x (N, C, H, W) contiguous. Overwrites gw.
void conv2d_grad_weight_direct(const ConvShape& shape, int64_t K, const float* gy, const float* x, float* gw);

}  // namespace dismax::cpu
