// Elementwise unary and binary ops, mirroring engine/cpu/elementwise.cpp op for op.
#include "engine/binary_math.h"
#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

template <class T>
__device__ T apply_unary(UnaryOp op, T x, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Abs: return ::fabs(x);
    case UnaryOp::Sign: return sign_of(x);
    case UnaryOp::Exp: return ::exp(x);
    case UnaryOp::Log: return ::log(x);
    case UnaryOp::Sqrt: return ::sqrt(x);
    case UnaryOp::Rsqrt: return T(1) / ::sqrt(x);
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Square: return x * x;
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Pow:
      if (alpha == T(2)) return x * x;
      if (alpha == T(1)) return x;
      if (alpha == T(0.5)) return ::sqrt(x);
      return ::pow(x, alpha);
    case UnaryOp::Clamp: return x < alpha ? alpha : (x > beta ? beta : x);  // NaN passes through
    case UnaryOp::InRange: return (x >= alpha && x <= beta) ? T(1) : T(0);
    case UnaryOp::Affine: return alpha * x + beta;
    case UnaryOp::Gt: return x > alpha ? T(1) : T(0);
  }
  return T(0);
}

template <class T>
__global__ void unary_kernel(UnaryOp op, const T* x, T* y, int64_t n, T alpha, T beta) {
  DISMAX_GRID_STRIDE_LOOP(i, n) y[i] = apply_unary(op, x[i], alpha, beta);
}

// No __restrict__: add_ runs in place (out aliases a).
template <class T>
__global__ void binary_contiguous_kernel(BinaryOp op, const T* a, const T* b, T* y, int64_t n, T alpha) {
  DISMAX_GRID_STRIDE_LOOP(i, n) y[i] = apply_binary(op, a[i], b[i], alpha);
}

template <class T>
__global__ void binary_strided_kernel(BinaryOp op, const T* a, const T* b, T* y, int64_t n, T alpha,
                                      StridedIndexer<3> indexer) {
  DISMAX_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    indexer.offsets(i, off);
    y[off[0]] = apply_binary(op, a[off[1]], b[off[2]], alpha);
  }
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, T alpha) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (a.is_contiguous() && b.is_contiguous() && out.is_contiguous()) {
    binary_contiguous_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(op, ptr<const T>(a), ptr<const T>(b),
                                                                           ptr<T>(out), n, alpha);
  } else {
    // out's strides are honoured too, as on the CPU, although the front end passes a contiguous out.
    const StridedIndexer<3> indexer(out.sizes(), {&out.strides(), &a.strides(), &b.strides()});
    binary_strided_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(op, ptr<const T>(a), ptr<const T>(b),
                                                                        ptr<T>(out), n, alpha, indexer);
  }
  DISMAX_CUDA_CHECK_LAUNCH("binary");
}

}  // namespace

void unary(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) {
  DISMAX_CHECK(x.is_contiguous() && out.is_contiguous() && x.numel() == out.numel(),
               "unary: expects contiguous tensors of equal size");
  DeviceGuard guard(out);
  dispatch_float(x.dtype(), "unary", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t n = x.numel();
    if (n == 0) return;
    unary_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(op, ptr<const T>(x), ptr<T>(out), n,
                                                              static_cast<T>(alpha), static_cast<T>(beta));
    DISMAX_CUDA_CHECK_LAUNCH("unary");
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha) {
  DISMAX_CHECK(a.sizes() == out.sizes() && b.sizes() == out.sizes(), "binary: operands must be broadcast to ",
               shape_str(out.sizes()));
  DeviceGuard guard(out);
  dispatch_float_or_int64(out.dtype(), "binary", "cuda", [&](auto tag) {
    using T = typename decltype(tag)::type;
    binary_typed<T>(op, a, b, out, static_cast<T>(alpha));
  });
}

}  // namespace dismax::cuda
