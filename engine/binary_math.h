// The scalar definition of each BinaryOp, shared by the CPU loops and the CUDA kernels so the two
// backends cannot drift apart.
#pragma once

#include "engine/kernels.h"

#if defined(__CUDACC__)
#define DISMAX_HOST_DEVICE __host__ __device__
#else
#define DISMAX_HOST_DEVICE
#endif

namespace dismax {

template <class T>
DISMAX_HOST_DEVICE inline T sign_of(T x) {
  return static_cast<T>((x > 0) - (x < 0));
}

template <class T>
DISMAX_HOST_DEVICE inline T apply_binary(BinaryOp op, T a, T b, T alpha) {
  switch (op) {
    case BinaryOp::Add: return a + alpha * b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Maximum: return (a != a || a >= b) ? a : b;  // NaN propagates
    case BinaryOp::Minimum: return (a != a || a <= b) ? a : b;
    case BinaryOp::ReluBackward: return b > T(0) ? a : T(0);
    case BinaryOp::SignMul: return a * sign_of(b);
    case BinaryOp::GeMask: return a >= b ? T(1) : T(0);
    case BinaryOp::Eq: return a == b ? T(1) : T(0);
  }
  return T(0);
}

}  // namespace dismax
