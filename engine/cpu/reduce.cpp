#include <cmath>
#include <limits>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {

template <class T>
T pick(ReduceOp op, T acc, T v) {
  switch (op) {
    case ReduceOp::Max: return (v > acc || v != v) ? v : acc;
    case ReduceOp::Min: return (v < acc || v != v) ? v : acc;
    default: return acc + v;
  }
}

// Sum of a contiguous block with 16 partial sums: vectorises, and the error grows far slower than a single
// running sum.
template <class T>
DISMAX_SIMD_CLONES T sum_block(const T* x, int64_t n) {
  T part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) part[j] += x[i + j];
  T s = 0;
  for (; i < n; ++i) s += x[i];
  for (int j = 0; j < 16; ++j) s += part[j];
  return s;
}

// Long runs are halved at block boundaries and the halves summed pairwise, so the rounding error grows with
// log(n) (a float32 sum of 10^6 values keeps about 6 digits, as PyTorch's cascade sum does).
template <class T>
T sum_run(const T* x, int64_t n) {
  constexpr int64_t kBlock = 4096;
  if (n <= kBlock) return sum_block(x, n);
  const int64_t half = (n / 2 + kBlock - 1) / kBlock * kBlock;
  return sum_run(x, half) + sum_run(x + half, n - half);
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, int64_t dim, Tensor& out) {
  const DimSplit split(x.sizes(), dim);
  const T* px = static_cast<const T*>(x.raw_data());
  T* py = static_cast<T*>(out.raw_data());
  const int64_t n = split.n, inner = split.inner;
  const bool additive = op == ReduceOp::Sum || op == ReduceOp::Mean;
  const T init = op == ReduceOp::Max   ? -std::numeric_limits<T>::infinity()
                 : op == ReduceOp::Min ? std::numeric_limits<T>::infinity()
                                       : T(0);
  const T scale = op == ReduceOp::Mean ? T(1) / static_cast<T>(std::max<int64_t>(n, 1)) : T(1);
  if (op == ReduceOp::Mean && n == 0) {
    std::fill(py, py + split.outer * inner, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  if (inner == 1) {
    parallel_for(0, split.outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* row = px + o * n;
        if (additive) {
          py[o] = sum_run(row, n) * scale;
        } else {
          T acc = init;
          for (int64_t k = 0; k < n; ++k) acc = pick(op, acc, row[k]);
          py[o] = acc;
        }
      }
    });
    return;
  }
  parallel_for(0, split.outer * inner, 4096, [&](int64_t b, int64_t e) {
    // Walk [b, e) as (outer, inner) ranges so the inner loop over columns stays contiguous.
    for (int64_t start = b; start < e;) {
      const int64_t o = start / inner, i0 = start % inner, i1 = std::min(inner, i0 + (e - start));
      T* y = py + o * inner;
      for (int64_t i = i0; i < i1; ++i) y[i] = init;
      for (int64_t k = 0; k < n; ++k) {
        const T* row = px + (o * n + k) * inner;
        if (additive) {
          for (int64_t i = i0; i < i1; ++i) y[i] += row[i];
        } else {
          for (int64_t i = i0; i < i1; ++i) y[i] = pick(op, y[i], row[i]);
        }
      }
      if (scale != T(1))
        for (int64_t i = i0; i < i1; ++i) y[i] *= scale;
      start += i1 - i0;
    }
  });
}

template <class T>
void max_dim_typed(const Tensor& x, int64_t dim, Tensor& values, Tensor& indices) {
  const DimSplit split(x.sizes(), dim);
  DISMAX_CHECK(split.n > 0, "max: cannot reduce over an empty dimension of ", x.describe());
  const T* px = static_cast<const T*>(x.raw_data());
  T* pv = static_cast<T*>(values.raw_data());
  int64_t* pi = static_cast<int64_t*>(indices.raw_data());
  parallel_for(0, split.outer * split.inner, 4096, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / split.inner, i = j % split.inner;
      const T* base = px + o * split.n * split.inner + i;
      T best = base[0];
      int64_t arg = 0;
      for (int64_t k = 1; k < split.n && best == best; ++k) {
        const T v = base[k * split.inner];
        if (v > best || v != v) {
          best = v;
          arg = k;
        }
      }
      pv[j] = best;
      pi[j] = arg;
    }
  });
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, int64_t dim, Tensor& out) {
  dispatch_float(x.dtype(), "reduce", [&](auto tag) { reduce_typed<typename decltype(tag)::type>(op, x, dim, out); });
}

void max_dim(const Tensor& x, int64_t dim, Tensor& values, Tensor& indices) {
  dispatch_float(x.dtype(), "max", [&](auto tag) {
    max_dim_typed<typename decltype(tag)::type>(x, dim, values, indices);
  });
}

}  // namespace dismax::cpu
