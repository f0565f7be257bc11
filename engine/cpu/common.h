// Helpers shared by the CPU kernels: dtype dispatch, SIMD clones of hot loops, strided iteration.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/kernel_support.h"
#include "engine/parallel.h"
#include "engine/tensor.h"

// Hot elementwise loops are compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time, so a
// portable build (no -march) still runs wide vectors where the CPU has them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(DISMAX_NATIVE_BUILD)
#define DISMAX_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DISMAX_SIMD_CLONES
#endif

namespace dismax::cpu {

template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, F&& fn) {
  return dismax::dispatch_float(dtype, op, "cpu", std::forward<F>(fn));
}
template <class F>
decltype(auto) dispatch_all(DType dtype, const char* op, F&& fn) {
  return dismax::dispatch_all(dtype, op, "cpu", std::forward<F>(fn));
}

// A loop nest over K operands that share a shape, with per-operand element strides. Size-1 dims are
// dropped and adjacent dims merged wherever every operand allows, so the common cases collapse to one or
// two dims with a unit or zero inner stride.
template <size_t K>
struct StridedLoop {
  std::vector<int64_t> sizes;                   // outermost first
  std::vector<std::array<int64_t, K>> strides;  // per dim, per operand

  StridedLoop(const Shape& shape, const std::array<const Shape*, K>& operand_strides) {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      std::array<int64_t, K> s;
      for (size_t k = 0; k < K; ++k) s[k] = (*operand_strides[k])[d];
      if (!sizes.empty()) {
        bool mergeable = true;
        for (size_t k = 0; k < K; ++k) mergeable &= strides.back()[k] == s[k] * shape[d];
        if (mergeable) {
          sizes.back() *= shape[d];
          strides.back() = s;
          continue;
        }
      }
      sizes.push_back(shape[d]);
      strides.push_back(s);
    }
    if (sizes.empty()) {
      sizes.push_back(1);
      strides.push_back({});
    }
  }

  int64_t inner_size() const { return sizes.back(); }
  const std::array<int64_t, K>& inner_strides() const { return strides.back(); }
  int64_t rows() const {
    int64_t r = 1;
    for (size_t d = 0; d + 1 < sizes.size(); ++d) r *= sizes[d];
    return r;
  }
  // Element offsets of each operand at the start of row `row`.
  std::array<int64_t, K> row_offsets(int64_t row) const {
    std::array<int64_t, K> off{};
    for (size_t d = sizes.size() - 1; d-- > 0;) {
      const int64_t i = row % sizes[d];
      row /= sizes[d];
      for (size_t k = 0; k < K; ++k) off[k] += i * strides[d][k];
    }
    return off;
  }
  // Calls row_fn(offsets, n, inner_strides) for every row (or for pieces of rows), in parallel when there
  // is enough work. Few long rows (contiguous operands merge into a single one) are cut into pieces so
  // that they spread over the threads too.
  template <class F>
  void run(const F& row_fn, int64_t grain = 32768) const {
    const int64_t n = inner_size(), r = rows();
    const auto inner = inner_strides();
    const int64_t threads = num_threads();
    const int64_t pieces =
        r >= 2 * threads ? 1 : std::clamp<int64_t>(n / std::max<int64_t>(grain, 1), 1, 4 * threads);
    const int64_t piece = (n + pieces - 1) / pieces;
    parallel_for(0, r * pieces, std::max<int64_t>(1, grain / std::max<int64_t>(piece, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t t = b; t < e; ++t) {
                     const int64_t lo = t % pieces * n / pieces, hi = (t % pieces + 1) * n / pieces;
                     std::array<int64_t, K> off = row_offsets(t / pieces);
                     for (size_t k = 0; k < K; ++k) off[k] += lo * inner[k];
                     row_fn(off, hi - lo, inner);
                   }
                 });
  }
};

}  // namespace dismax::cpu
