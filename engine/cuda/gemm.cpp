// GEMM through cuBLAS. Row-major C = A·B is computed as the column-major C^T = B^T·A^T, so neither operand
// is copied when it is row-major or a transposed view (the backward passes' a.t() and b.t()).
#include <cublas_v2.h>

#include <climits>
#include <mutex>
#include <vector>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"
#include "engine/math_mode.h"

#define DISMAX_CUBLAS_CHECK(call)                                                                            \
  do {                                                                                                       \
    const cublasStatus_t dismax_status_ = (call);                                                            \
    if (dismax_status_ != CUBLAS_STATUS_SUCCESS)                                                             \
      DISMAX_FAIL(#call, " failed at ", __FILE__, ":", __LINE__, ": ", cublasGetStatusString(dismax_status_)); \
  } while (0)

namespace dismax::cuda {

namespace {

// Never destroyed: at process exit the CUDA context may already be gone.
cublasHandle_t handle_for(int device) {
  static std::mutex mutex;
  static std::vector<cublasHandle_t> handles;
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<int>(handles.size()) <= device) handles.resize(device + 1, nullptr);
  if (handles[device] == nullptr) {
    DISMAX_CUBLAS_CHECK(cublasCreate(&handles[device]));
    DISMAX_CUBLAS_CHECK(cublasSetStream(handles[device], stream(device)));
    DISMAX_CUBLAS_CHECK(cublasSetPointerMode(handles[device], CUBLAS_POINTER_MODE_HOST));
  }
  return handles[device];
}

// A 2-D strided matrix as cuBLAS sees it: its column-major view is either the matrix's transpose
// (row-major storage, op N on the transpose) or the matrix itself (column-major storage, op T).
struct Operand {
  Tensor storage;  // keeps a contiguous copy alive when the view had to be copied
  const void* data = nullptr;
  bool row_major = true;
  int64_t ld = 1;
};

Operand as_operand(const Tensor& t) {
  const int64_t rows = t.size(0), cols = t.size(1), s0 = t.stride(0), s1 = t.stride(1);
  Operand op;
  if ((s1 == 1 || cols == 1) && (rows == 1 || s0 >= cols)) {
    op.row_major = true;
    op.ld = std::max<int64_t>({rows == 1 ? cols : s0, cols, 1});
  } else if ((s0 == 1 || rows == 1) && (cols == 1 || s1 >= rows)) {
    op.row_major = false;
    op.ld = std::max<int64_t>({cols == 1 ? rows : s1, rows, 1});
  } else {
    op.storage = t.contiguous();
    op.row_major = true;
    op.ld = std::max<int64_t>(cols, 1);
    op.data = op.storage.raw_data();
    return op;
  }
  op.data = t.raw_data();
  return op;
}

int as_int(int64_t v, const char* what, const Tensor& a, const Tensor& b) {
  DISMAX_CHECK(v <= INT_MAX, "gemm on cuda: ", what, " = ", v, " exceeds cuBLAS's 32-bit limit (", a.describe(),
               " x ", b.describe(), ")");
  return static_cast<int>(v);
}

}  // namespace

void gemm(double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
  DeviceGuard guard(c);
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  DISMAX_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), "gemm on cuda: mixed dtypes ", a.describe(), ", ",
               b.describe(), ", ", c.describe());
  if (M == 0 || N == 0) return;
  const DType dtype = c.dtype();
  DISMAX_CHECK(dtype == DType::Float32 || dtype == DType::Float64, "gemm on cuda: unsupported dtype ",
               dtype_name(dtype), " (float32 and float64 only)");
  if (K == 0) {  // C = beta * C
    if (beta == 0.0) {
      DISMAX_CUDA_CHECK(cudaMemsetAsync(c.raw_data(), 0, c.numel() * c.itemsize(), stream()));
    } else if (beta != 1.0) {
      unary(UnaryOp::Affine, c, c, beta, 0.0);
    }
    return;
  }
  const Operand A = as_operand(a), B = as_operand(b);
  // Column-major: C^T (N x M) = op(B-view) (N x K) * op(A-view) (K x M).
  const cublasOperation_t op_b = B.row_major ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t op_a = A.row_major ? CUBLAS_OP_N : CUBLAS_OP_T;
  const int m = as_int(N, "N", a, b), n = as_int(M, "M", a, b), k = as_int(K, "K", a, b);
  const int ldb = as_int(B.ld, "ldb", a, b), lda = as_int(A.ld, "lda", a, b), ldc = as_int(N, "ldc", a, b);
  cublasHandle_t h = handle_for(c.device().index);
  if (dtype == DType::Float32) {
    const float fa = static_cast<float>(alpha), fb = static_cast<float>(beta);
    const cublasComputeType_t compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    DISMAX_CUBLAS_CHECK(cublasGemmEx(h, op_b, op_a, m, n, k, &fa, B.data, CUDA_R_32F, ldb, A.data, CUDA_R_32F, lda,
                                     &fb, c.raw_data(), CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT));
  } else {
    DISMAX_CUBLAS_CHECK(cublasDgemm(h, op_b, op_a, m, n, k, &alpha, static_cast<const double*>(B.data), ldb,
                                    static_cast<const double*>(A.data), lda, &beta, static_cast<double*>(c.raw_data()),
                                    ldc));
  }
}

}  // namespace dismax::cuda
