// Process-wide numeric choices of the GPU kernels.
#pragma once

namespace dismax {

// TF32 tensor-core math for float32 GEMM and convolution on CUDA (10-bit mantissa products, about 8x the
// fp32 rate on Ampere and later). Off by default so float32 means float32; the environment variable
// DISMAX_ALLOW_TF32=1 turns it on at start-up.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace dismax
