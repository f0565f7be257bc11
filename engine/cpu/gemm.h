// Single-precision GEMM for the CPU backend (used by matmul and im2col convolution).
//
// Shapes and semantics: C (M x N, row-major with leading dimension ldc) = alpha * A (M x K) * B (K x N)
// + beta * C. A and B are read through strided views, so transposed or otherwise strided operands cost
// nothing extra. beta == 0 makes C write-only (its old contents, NaNs included, are never read); K == 0
// or alpha == 0 gives C = beta * C without reading A or B.
//
// Threading: uses omp_get_max_threads() OpenMP threads for problems that are large enough; when called
// from inside an active parallel region it runs single-threaded in the calling thread.
//
// ISA: an AVX-512 or AVX2 kernel is picked once at first use from the CPU's features; the environment
// variable DISMAX_GEMM_ISA=avx512|avx2|generic (or set_gemm_isa) forces a path and fails with
// std::runtime_error when the CPU lacks it.
#pragma once

#include <cstdint>

namespace dismax::cpu {

// A strided read-only matrix view: element (i, j) is data[i * row_stride + j * col_stride].
struct MatView {
  const float* data;
  int64_t row_stride;
  int64_t col_stride;
};

// C (M x N) = alpha * A (M x K) * B (K x N) + beta * C. C element (i, j) is at c[i * ldc + j].
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, MatView A, MatView B, float beta, float* c,
           int64_t ldc);

// BLAS-like row-major form: op(A) is M x K (A is stored K x M when trans_a), op(B) is K x N (B is stored
// N x K when trans_b); lda and ldb are the row strides of the stored matrices.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

enum class GemmIsa { generic, avx2, avx512 };

GemmIsa gemm_isa();              // the path in use (resolves DISMAX_GEMM_ISA on first call)
void set_gemm_isa(GemmIsa isa);  // force a path; throws std::runtime_error if this CPU lacks it
bool gemm_isa_supported(GemmIsa isa);
const char* gemm_isa_name(GemmIsa isa);  // "generic", "avx2", "avx512"

}  // namespace dismax::cpu
