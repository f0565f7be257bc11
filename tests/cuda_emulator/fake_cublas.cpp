// Fake cuBLAS: handles and the two GEMMs dismax calls, written from the cuBLAS documentation's column-major
// definition (not from engine/cuda/gemm.cpp):
//   C = alpha * op(A) * op(B) + beta * C,  op(A) m x k, op(B) k x n, C m x n, all column-major;
//   element (i, j) of X with leading dimension ldx is X[i + j * ldx];
//   transa == N: A is lda x k, lda >= max(1, m);  transa == T: A is lda x m, lda >= max(1, k);
//   transb == N: B is ldb x n, ldb >= max(1, k);  transb == T: B is ldb x k, ldb >= max(1, n);
//   ldc >= max(1, m); with beta == 0, C is not read (it may hold NaN).
// Each matrix's accessed extent must lie in one device allocation. Sums are in double, then rounded;
// CUBLAS_COMPUTE_32F_FAST_TF32 rounds A and B to TF32 first, as tensor cores do.
#include <cublas_v2.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "fake_device.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

namespace {

std::set<cublasHandle_t> handles;
bool valid(cublasHandle_t h) { return handles.count(h) != 0; }

const char* op_name(cublasOperation_t o) { return o == CUBLAS_OP_N ? "N" : o == CUBLAS_OP_T ? "T" : "C"; }

template <class T>
cublasStatus_t check(const char* fn, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                     int64_t n, int64_t k, const void* alpha, const T* A, int64_t lda, const T* B,
                     int64_t ldb, const void* beta, T* C, int64_t ldc) {
  char call[256];
  std::snprintf(call, sizeof call, "%s(%s, %s, m=%ld, n=%ld, k=%ld, lda=%ld, ldb=%ld, ldc=%ld)", fn,
                op_name(ta), op_name(tb), static_cast<long>(m), static_cast<long>(n), static_cast<long>(k),
                static_cast<long>(lda), static_cast<long>(ldb), static_cast<long>(ldc));
  auto bad = [&](cublasStatus_t s, const char* why) {
    fake::report(std::string(call) + ": " + why);
    return s;
  };
  if (!valid(h)) return bad(CUBLAS_STATUS_NOT_INITIALIZED, "invalid handle");
  auto known = [](cublasOperation_t o) { return o == CUBLAS_OP_N || o == CUBLAS_OP_T || o == CUBLAS_OP_C; };
  if (!known(ta) || !known(tb) || m < 0 || n < 0 || k < 0 ||
      lda < std::max<int64_t>(1, ta == CUBLAS_OP_N ? m : k) ||
      ldb < std::max<int64_t>(1, tb == CUBLAS_OP_N ? k : n) || ldc < std::max<int64_t>(1, m))
    return bad(CUBLAS_STATUS_INVALID_VALUE, "CUBLAS_STATUS_INVALID_VALUE (dimension or leading dimension)");
  if (alpha == nullptr || beta == nullptr) return bad(CUBLAS_STATUS_INVALID_VALUE, "null alpha/beta");
  if (h->pointer_mode == CUBLAS_POINTER_MODE_DEVICE &&
      (!fake::is_device_range(alpha, sizeof(T)) || !fake::is_device_range(beta, sizeof(T))))
    return bad(CUBLAS_STATUS_INVALID_VALUE, "device pointer mode with host alpha/beta");
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  auto inside = [](const T* p, int64_t rows, int64_t cols, int64_t ld) {
    return fake::is_device_range(p, static_cast<size_t>((cols - 1) * ld + rows) * sizeof(T));
  };
  bool ok = inside(C, m, n, ldc);
  if (k > 0) {
    ok &= ta == CUBLAS_OP_N ? inside(A, m, k, lda) : inside(A, k, m, lda);
    ok &= tb == CUBLAS_OP_N ? inside(B, k, n, ldb) : inside(B, n, k, ldb);
  }
  // A GPU would read or write out of bounds, or fault.
  if (!ok) return bad(CUBLAS_STATUS_INVALID_VALUE, "a matrix's extent is not inside one device allocation");
  return CUBLAS_STATUS_SUCCESS;
}

template <class T>
void gemm(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k, double alpha,
          const T* A, int64_t lda, const T* B, int64_t ldb, double beta, T* C, int64_t ldc, bool tf32) {
  auto read = [tf32](T v) -> double {
    if constexpr (std::is_same_v<T, float>) return tf32 ? fake::round_to_tf32(v) : v;
    return v;
  };
  // op(A) as a dense column-major m x k double matrix, op(B) as k x n.
  std::vector<double> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t i = 0; i < m; ++i) a[i + p * m] = read(ta == CUBLAS_OP_N ? A[i + p * lda] : A[p + i * lda]);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) b[p + j * k] = read(tb == CUBLAS_OP_N ? B[p + j * ldb] : B[j + p * ldb]);
  std::vector<double> acc(static_cast<size_t>(m));
  for (int64_t j = 0; j < n; ++j) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t p = 0; p < k; ++p) {
      const double bv = b[p + j * k];
      const double* ap = &a[p * m];
      for (int64_t i = 0; i < m; ++i) acc[i] += ap[i] * bv;
    }
    T* c = C + j * ldc;
    for (int64_t i = 0; i < m; ++i)
      c[i] = static_cast<T>(beta == 0.0 ? alpha * acc[i] : alpha * acc[i] + beta * static_cast<double>(c[i]));
  }
}

// Queues the GEMM; in device pointer mode alpha and beta are read when it runs.
template <class T>
void enqueue_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n,
                  int64_t k, const T* alpha, const T* A, int64_t lda, const T* B, int64_t ldb, const T* beta,
                  T* C, int64_t ldc, bool tf32) {
  const bool host = h->pointer_mode == CUBLAS_POINTER_MODE_HOST;
  const T host_alpha = host ? *alpha : T(0), host_beta = host ? *beta : T(0);
  fake::valid_stream(h->stream, "cuBLAS GEMM");
  fake::enqueue(1.0, [=] {
    gemm<T>(ta, tb, m, n, k, host ? host_alpha : *alpha, A, lda, B, ldb, host ? host_beta : *beta, C, ldc,
            tf32);
  });
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    (void)cudaGetLastError();
    return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  *handle = new cublasContext;
  handles.insert(*handle);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!valid(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (fake::exiting()) fake::report("cublasDestroy during process teardown (after main returned)");
  handles.erase(handle);
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
// The CUDA runtime this cuBLAS was built for; EMU_CUBLAS_CUDART overrides it.
size_t cublasGetCudartVersion() {
  const char* v = std::getenv("EMU_CUBLAS_CUDART");
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : CUDART_VERSION;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (!valid(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!fake::valid_stream(stream)) {
    fake::report("cublasSetStream: unknown stream");
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (!valid(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE)
    return CUBLAS_STATUS_INVALID_VALUE;
  handle->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}
const char* cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "fake cuBLAS: other status";
  }
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                            int n, int k, const void* alpha, const void* A, cudaDataType Atype, int lda,
                            const void* B, cudaDataType Btype, int ldb, const void* beta, void* C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t) {
  if (Atype != CUDA_R_32F || Btype != CUDA_R_32F || Ctype != CUDA_R_32F ||
      (computeType != CUBLAS_COMPUTE_32F && computeType != CUBLAS_COMPUTE_32F_FAST_TF32 &&
       computeType != CUBLAS_COMPUTE_32F_PEDANTIC)) {
    fake::report("cublasGemmEx: only float32 operands with a 32F compute type are emulated (this call has " +
                 std::to_string(Atype) + "/" + std::to_string(Btype) + "/" + std::to_string(Ctype) +
                 " compute " + std::to_string(computeType) + ")");
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  const auto* a = static_cast<const float*>(A);
  const auto* b = static_cast<const float*>(B);
  auto* c = static_cast<float*>(C);
  const auto* al = static_cast<const float*>(alpha);
  const auto* be = static_cast<const float*>(beta);
  const cublasStatus_t st =
      check<float>("cublasGemmEx", handle, transa, transb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
  if (st != CUBLAS_STATUS_SUCCESS || m == 0 || n == 0) return st;
  enqueue_gemm<float>(handle, transa, transb, m, n, k, al, a, lda, b, ldb, be, c, ldc,
                      computeType == CUBLAS_COMPUTE_32F_FAST_TF32);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                              int m, int n, int k, const double* alpha, const double* A, int lda,
                              const double* B, int ldb, const double* beta, double* C, int ldc) {
  const cublasStatus_t st =
      check<double>("cublasDgemm", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != CUBLAS_STATUS_SUCCESS || m == 0 || n == 0) return st;
  enqueue_gemm<double>(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, false);
  return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
