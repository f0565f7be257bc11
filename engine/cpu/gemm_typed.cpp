#include "engine/cpu/gemm_typed.h"

#include <Eigen/Core>
#include <algorithm>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"
#include "engine/cpu/gemm.h"

namespace dismax::cpu {

template <>
void gemm_strided<float>(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t a_rs, int64_t a_cs,
                         const float* b, int64_t b_rs, int64_t b_cs, float beta, float* c, int64_t ldc) {
  sgemm(M, N, K, alpha, MatView{a, a_rs, a_cs}, MatView{b, b_rs, b_cs}, beta, c, ldc);
}

template <>
void gemm_strided<double>(int64_t M, int64_t N, int64_t K, double alpha, const double* a, int64_t a_rs,
                          int64_t a_cs, const double* b, int64_t b_rs, int64_t b_cs, double beta, double* c,
                          int64_t ldc) {
  using Strided = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
  using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<RowMat, 0, Eigen::OuterStride<>> C(c, M, N, Eigen::OuterStride<>(std::max<int64_t>(ldc, 1)));
  if (beta == 0.0) C.setZero();
  else if (beta != 1.0) C *= beta;
  if (K == 0 || M == 0 || N == 0) return;
  Eigen::Map<const RowMat, 0, Strided> A(a, M, K, Strided(a_rs, a_cs));
  Eigen::Map<const RowMat, 0, Strided> B(b, K, N, Strided(b_rs, b_cs));
  C.noalias() += alpha * (A * B);
}

void gemm(double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  dispatch_float(c.dtype(), "gemm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm_strided<T>(M, N, K, static_cast<T>(alpha), static_cast<const T*>(a.raw_data()), a.stride(0), a.stride(1),
                    static_cast<const T*>(b.raw_data()), b.stride(0), b.stride(1), static_cast<T>(beta),
                    static_cast<T*>(c.raw_data()), N);
  });
}

}  // namespace dismax::cpu
