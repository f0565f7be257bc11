#include <cmath>

#include "engine/binary_math.h"
#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {

// Flat loops, one per op, so each vectorises on its own.
template <class T>
DISMAX_SIMD_CLONES void unary_flat(UnaryOp op, const T* x, T* y, int64_t n, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: for (int64_t i = 0; i < n; ++i) y[i] = -x[i]; break;
    case UnaryOp::Abs: for (int64_t i = 0; i < n; ++i) y[i] = std::abs(x[i]); break;
    case UnaryOp::Sign: for (int64_t i = 0; i < n; ++i) y[i] = sign_of(x[i]); break;
    case UnaryOp::Exp: for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]); break;
    case UnaryOp::Log: for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]); break;
    case UnaryOp::Sqrt: for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]); break;
    case UnaryOp::Rsqrt: for (int64_t i = 0; i < n; ++i) y[i] = T(1) / std::sqrt(x[i]); break;
    case UnaryOp::Reciprocal: for (int64_t i = 0; i < n; ++i) y[i] = T(1) / x[i]; break;
    case UnaryOp::Square: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i]; break;
    case UnaryOp::Relu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i]; break;  // NaN stays NaN, as PyTorch
    case UnaryOp::Pow:
      if (alpha == T(2)) {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
      } else if (alpha == T(1)) {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i];
      } else if (alpha == T(0.5)) {
        for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) y[i] = std::pow(x[i], alpha);
      }
      break;
    case UnaryOp::Clamp:
      // NaN passes through, as in PyTorch.
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] < alpha ? alpha : (x[i] > beta ? beta : x[i]);
      break;
    case UnaryOp::InRange:
      for (int64_t i = 0; i < n; ++i) y[i] = (x[i] >= alpha && x[i] <= beta) ? T(1) : T(0);
      break;
    case UnaryOp::Affine: for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i] + beta; break;
    case UnaryOp::Gt: for (int64_t i = 0; i < n; ++i) y[i] = x[i] > alpha ? T(1) : T(0); break;
  }
}

// Inner row with constant strides sa, sb in {0, 1}; the op switch is hoisted out of the loop.
template <class T, int SA, int SB>
DISMAX_SIMD_CLONES void binary_row(BinaryOp op, const T* a, const T* b, T* y, int64_t n, T alpha) {
#define DISMAX_ROW(expr)                                                                 \
  for (int64_t i = 0; i < n; ++i) {                                                      \
    const T av = a[SA * i], bv = b[SB * i];                                              \
    y[i] = expr;                                                                         \
  }                                                                                      \
  break;
  switch (op) {
    case BinaryOp::Add: DISMAX_ROW(av + alpha * bv)
    case BinaryOp::Sub: DISMAX_ROW(av - bv)
    case BinaryOp::Mul: DISMAX_ROW(av * bv)
    case BinaryOp::Div: DISMAX_ROW(av / bv)
    case BinaryOp::ReluBackward: DISMAX_ROW(bv > T(0) ? av : T(0))
    default: DISMAX_ROW(apply_binary(op, av, bv, alpha))
  }
#undef DISMAX_ROW
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, T alpha) {
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* py = static_cast<T*>(out.raw_data());
  const Shape &sa = a.strides(), &sb = b.strides(), &sy = out.strides();
  StridedLoop<3> loop(out.sizes(), {&sy, &sa, &sb});
  loop.run([&](std::array<int64_t, 3> off, int64_t n, std::array<int64_t, 3> s) {
    const T* ra = pa + off[1];
    const T* rb = pb + off[2];
    T* ry = py + off[0];
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) return binary_row<T, 1, 1>(op, ra, rb, ry, n, alpha);
    if (s[0] == 1 && s[1] == 1 && s[2] == 0) return binary_row<T, 1, 0>(op, ra, rb, ry, n, alpha);
    if (s[0] == 1 && s[1] == 0 && s[2] == 1) return binary_row<T, 0, 1>(op, ra, rb, ry, n, alpha);
    for (int64_t i = 0; i < n; ++i) ry[i * s[0]] = apply_binary(op, ra[i * s[1]], rb[i * s[2]], alpha);
  });
}

}  // namespace

void unary(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) {
  DISMAX_CHECK(x.is_contiguous() && out.is_contiguous() && x.numel() == out.numel(),
               "unary: expects contiguous tensors of equal size");
  dispatch_float(x.dtype(), "unary", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    parallel_for(0, x.numel(), 65536, [&](int64_t b, int64_t e) {
      unary_flat<T>(op, px + b, py + b, e - b, static_cast<T>(alpha), static_cast<T>(beta));
    });
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha) {
  DISMAX_CHECK(a.sizes() == out.sizes() && b.sizes() == out.sizes(), "binary: operands must be broadcast to ",
               shape_str(out.sizes()));
  dispatch_float_or_int64(out.dtype(), "binary", "cpu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    binary_typed<T>(op, a, b, out, static_cast<T>(alpha));
  });
}

}  // namespace dismax::cpu
