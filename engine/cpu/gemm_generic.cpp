// Portable GEMM path: plain C++ micro-kernels that the compiler vectorises for whatever the build targets
// (SSE2 on baseline x86-64, NEON on AArch64). Used on CPUs without AVX2 and as a reference path.
#include <algorithm>
#include <utility>

#include "engine/cpu/gemm_arch.h"

namespace dismax::cpu::detail {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 8;

template <int M>
void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
                  int n, PrefetchCursor*) {
  float acc[M][kNr] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* ak = a + k * kMr;
    const float* bk = b + k * kNr;
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < kNr; ++j) acc[i][j] += ak[i] * bk[j];
    }
  }
  for (int i = 0; i < M; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < n; ++j) row[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < n; ++j) row[j] = alpha * acc[i][j] + beta * row[j];
    }
  }
}

template <int... Ms>
MicroKernel kernel_by_rows(int m, std::integer_sequence<int, Ms...>) {
  MicroKernel k = nullptr;
  ((m == Ms + 1 ? (k = micro_kernel<Ms + 1>, 0) : 0), ...);
  return k;
}

MicroKernel select_kernel(int m, int) { return kernel_by_rows(m, std::make_integer_sequence<int, kMr>()); }

void pack(float* dst, int w, const float* src, int64_t s_i, int64_t s_k, int64_t r, int64_t kc) {
  if (s_i == 1) {
    for (int64_t k = 0; k < kc; ++k) {
      float* d = dst + k * w;
      const float* s = src + k * s_k;
      std::copy(s, s + r, d);
      std::fill(d + r, d + w, 0.0f);
    }
    return;
  }
  // Walk the source along its contiguous direction where there is one.
  for (int i = 0; i < w; ++i) {
    if (i >= r) {
      for (int64_t k = 0; k < kc; ++k) dst[k * w + i] = 0.0f;
      continue;
    }
    const float* s = src + i * s_i;
    for (int64_t k = 0; k < kc; ++k) dst[k * w + i] = s[k * s_k];
  }
}

const GemmArch kArch = {"generic", kMr, kNr, 256, 120, 384, pack, select_kernel, nullptr};

}  // namespace

const GemmArch* gemm_arch_generic() { return &kArch; }

}  // namespace dismax::cpu::detail
