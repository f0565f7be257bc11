// Single-precision GEMM for the CPU backend (used by matmul and convolution).
//
// Shapes and semantics: C (M x N, row-major with leading dimension ldc) = alpha * A (M x K) * B (K x N)
// + beta * C. A and B are read through strided views, so transposed or otherwise strided operands cost
// nothing extra. beta == 0 makes C write-only (its old contents, NaNs included, are never read); K == 0
// or alpha == 0 gives C = beta * C without reading A or B.
//
// Threading: problems that are large enough run on dismax's thread pool (engine/parallel.h), on
// min(num_threads(), omp_get_max_threads()) threads; inside a parallel task or an OpenMP parallel region
// it runs single-threaded in the calling thread.
//
// ISA: an AVX-512 or AVX2 kernel is picked once at first use from the CPU's features; the environment
// variable DISMAX_ISA=avx512|avx2|generic (DISMAX_GEMM_ISA, its earlier name; or set_gemm_isa) forces a path
// for GEMM and for every other CPU kernel with an AVX-512 form, and fails with std::runtime_error when the
// CPU lacks it.
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

// An operand that packs itself, for operands that are never stored as a matrix: convolution reads its
// im2col columns straight from the image this way (implicit GEMM, conv_im2col.h).
class PackSource {
 public:
  virtual ~PackSource() = default;
  // Writes the w-wide sliver of rows [i0, i0 + rows) (rows <= w) over depth [k0, k0 + kc):
  // dst[k * w + i] = X(i0 + i, k0 + k) for i < rows, 0 for rows <= i < w; X is A for the A operand and
  // B transposed (i indexes columns of C) for the B operand. Called concurrently from several threads;
  // k0 is always a multiple of kPackDepthAlign.
  virtual void pack(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const = 0;
};
constexpr int64_t kPackDepthAlign = 16;

// One GEMM operand: a strided view or a PackSource (not owned).
struct GemmOperand {
  GemmOperand(MatView v) : view(v) {}  // NOLINT(google-explicit-constructor): both forms read naturally
  GemmOperand(const PackSource& s) : source(&s) {}  // NOLINT(google-explicit-constructor)
  MatView view{nullptr, 0, 0};
  const PackSource* source = nullptr;
};

// Where C lives: its columns come in groups of `group` columns that lie group_stride elements apart, so
// element (i, j) is at data[i * ldc + (j / group) * group_stride + j % group]. A batch of (K, H*W)
// planes (an NCHW tensor) seen as one K x (N*H*W) matrix is {data, H*W, H*W, K*H*W}; a plain row-major
// matrix is {data, ldc, N, 0}.
struct GroupedC {
  float* data;
  int64_t ldc;
  int64_t group;
  int64_t group_stride;
};

// C = alpha * A * B + beta * C with the operands and C as above; same semantics as the MatView form.
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, GemmOperand A, GemmOperand B, float beta,
           GroupedC C);

enum class GemmIsa { generic, avx2, avx512 };

GemmIsa gemm_isa();              // the path in use (resolves DISMAX_GEMM_ISA on first call)
void set_gemm_isa(GemmIsa isa);  // force a path; throws std::runtime_error if this CPU lacks it
bool gemm_isa_supported(GemmIsa isa);
const char* gemm_isa_name(GemmIsa isa);  // "generic", "avx2", "avx512"

}  // namespace dismax::cpu
