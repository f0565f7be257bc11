// Typed GEMM over strided matrices: float goes to the packed AVX-512/AVX2 sgemm, double (gradient checks)
// to Eigen.
#pragma once

#include <cstdint>

namespace dismax::cpu {

// C (M x N, row stride ldc, unit column stride) = alpha * A * B + beta * C, with A (M x K) and B (K x N)
// given by element strides. beta == 0: C is write-only.
template <class T>
void gemm_strided(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t a_rs, int64_t a_cs, const T* b,
                  int64_t b_rs, int64_t b_cs, T beta, T* c, int64_t ldc);

}  // namespace dismax::cpu
