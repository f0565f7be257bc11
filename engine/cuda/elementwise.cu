// Elementwise unary and binary ops, mirroring engine/cpu/elementwise.cpp op for op.
#include <initializer_list>
#include <type_traits>

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
    case UnaryOp::Relu: return x < T(0) ? T(0) : x;  // NaN stays NaN, as PyTorch
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

// 128-bit loads and stores: 4 floats or 2 doubles a thread per access.
template <class T>
__global__ void unary_vectorized_kernel(UnaryOp op, const Vec16<T>* x, Vec16<T>* y, int64_t vectors, T alpha,
                                        T beta) {
  DISMAX_GRID_STRIDE_LOOP(i, vectors) {
    Vec16<T> v = x[i];
    for (int j = 0; j < Vec16<T>::kWidth; ++j) v.v[j] = apply_unary(op, v.v[j], alpha, beta);
    y[i] = v;
  }
}

// No __restrict__: add_ runs in place (out aliases a).
template <class T>
__global__ void binary_contiguous_kernel(BinaryOp op, const T* a, const T* b, T* y, int64_t n, T alpha) {
  DISMAX_GRID_STRIDE_LOOP(i, n) y[i] = apply_binary(op, a[i], b[i], alpha);
}

template <class T>
__global__ void binary_vectorized_kernel(BinaryOp op, const Vec16<T>* a, const Vec16<T>* b, Vec16<T>* y,
                                         int64_t vectors, T alpha) {
  DISMAX_GRID_STRIDE_LOOP(i, vectors) {
    const Vec16<T> va = a[i], vb = b[i];
    Vec16<T> out;
    for (int j = 0; j < Vec16<T>::kWidth; ++j) out.v[j] = apply_binary(op, va.v[j], vb.v[j], alpha);
    y[i] = out;
  }
}

template <class T, class Index>
__global__ void binary_strided_kernel(BinaryOp op, const T* a, const T* b, T* y, Index n, T alpha,
                                      StridedIndexer<3, Index> indexer) {
  DISMAX_GRID_STRIDE_LOOP_T(Index, i, n) {
    Index off[3];
    indexer.offsets(i, off);
    y[off[0]] = apply_binary(op, a[off[1]], b[off[2]], alpha);
  }
}

// The number of leading elements handled 16 bytes at a time: all whole vectors when every pointer is
// 16-byte aligned, none otherwise; the rest goes through the scalar kernel.
template <class T>
int64_t vectorizable(int64_t n, std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (!aligned16(p)) return 0;
  return n / Vec16<T>::kWidth * Vec16<T>::kWidth;
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, T alpha) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (a.is_contiguous() && b.is_contiguous() && out.is_contiguous()) {
    const T *pa = ptr<const T>(a), *pb = ptr<const T>(b);
    T* py = ptr<T>(out);
    const int64_t done = vectorizable<T>(n, {pa, pb, py}), vectors = done / Vec16<T>::kWidth;
    if (vectors > 0)
      binary_vectorized_kernel<T><<<blocks_for(vectors), kThreads, 0, stream()>>>(
          op, reinterpret_cast<const Vec16<T>*>(pa), reinterpret_cast<const Vec16<T>*>(pb),
          reinterpret_cast<Vec16<T>*>(py), vectors, alpha);
    if (done < n)
      binary_contiguous_kernel<T><<<blocks_for(n - done), kThreads, 0, stream()>>>(op, pa + done, pb + done,
                                                                                    py + done, n - done, alpha);
  } else {
    // out's strides are honoured too, as on the CPU, although the front end passes a contiguous out.
    const StridedIndexer<3> indexer(out.sizes(), {&out.strides(), &a.strides(), &b.strides()});
    with_indexer(indexer, n, [&](const auto& ix) {
      using Index = std::remove_cv_t<std::remove_reference_t<decltype(ix.sizes[0])>>;
      binary_strided_kernel<T, Index><<<blocks_for(n), kThreads, 0, stream()>>>(
          op, ptr<const T>(a), ptr<const T>(b), ptr<T>(out), static_cast<Index>(n), alpha, ix);
    });
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
    const T* px = ptr<const T>(x);
    T* py = ptr<T>(out);
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    const int64_t done = vectorizable<T>(n, {px, py}), vectors = done / Vec16<T>::kWidth;
    if (vectors > 0)
      unary_vectorized_kernel<T><<<blocks_for(vectors), kThreads, 0, stream()>>>(
          op, reinterpret_cast<const Vec16<T>*>(px), reinterpret_cast<Vec16<T>*>(py), vectors, a, b);
    if (done < n)
      unary_kernel<T><<<blocks_for(n - done), kThreads, 0, stream()>>>(op, px + done, py + done, n - done, a, b);
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
