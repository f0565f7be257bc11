// AVX2 GEMM path: a 6 x 16 micro-kernel (12 ymm accumulators) and packing with 8 x 8 in-register
// transposes. Compiled through function attributes, so the file builds without -m flags and only runs
// when the dispatcher in gemm.cpp has checked the CPU.
#include "engine/cpu/gemm_arch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#include <algorithm>
#include <utility>

#define DISMAX_AVX2 __attribute__((target("avx2,fma")))
#define DISMAX_AVX2_INLINE DISMAX_AVX2 __attribute__((always_inline)) inline

namespace dismax::cpu::detail {
namespace {

constexpr int kMr = 6;
constexpr int kNv = 2;  // ymm vectors per row of the micro-tile
constexpr int kNr = 8 * kNv;

// All-ones in the lanes below n (clamped to 0..8).
DISMAX_AVX2_INLINE __m256i lane_mask(int64_t n) {
  const int lanes = int(std::clamp<int64_t>(n, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int M, int NV>
DISMAX_AVX2_INLINE void rank1(__m256 (&acc)[M][NV], const float* a, const float* b) {
  __m256 bv[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_ps(b + 8 * v);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    const __m256 av = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
  }
}

template <int M, int NV>
DISMAX_AVX2 void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                              float beta, int n, PrefetchCursor* pf) {
  __m256 acc[M][NV];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  }
  // Start loading the C tile now so that it is in L1 when the k loop is done.
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8 * NV) - 1, _MM_HINT_T0);
  }
  PrefetchCursor cur = *pf;
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    rank1<M, NV>(acc, a, b);
    rank1<M, NV>(acc, a + kMr, b + kNr);
    rank1<M, NV>(acc, a + 2 * kMr, b + 2 * kNr);
    rank1<M, NV>(acc, a + 3 * kMr, b + 3 * kNr);
    a += 4 * kMr;
    b += 4 * kNr;
    if (cur.budget > 0) _mm_prefetch(cur.next_line(), _MM_HINT_T1);
    if (cur.budget > 0) _mm_prefetch(cur.next_line(), _MM_HINT_T1);
  }
  for (; k < kc; ++k) {
    rank1<M, NV>(acc, a, b);
    a += kMr;
    b += kNr;
  }
  *pf = cur;

  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  if (n == kNr) {
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + i * ldc + 8 * v;
        __m256 r = _mm256_mul_ps(acc[i][v], va);
        if (beta != 0.0f) r = _mm256_fmadd_ps(_mm256_loadu_ps(p), vb, r);
        _mm256_storeu_ps(p, r);
      }
    }
    return;
  }
  __m256i mask[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) mask[v] = lane_mask(n - 8 * v);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* p = c + i * ldc + 8 * v;
      __m256 r = _mm256_mul_ps(acc[i][v], va);
      if (beta != 0.0f) r = _mm256_fmadd_ps(_mm256_maskload_ps(p, mask[v]), vb, r);
      _mm256_maskstore_ps(p, mask[v], r);
    }
  }
}

template <int M>
MicroKernel kernel_for_rows(int n) {
  if (n <= 8) return micro_kernel<M, 1>;
  return micro_kernel<M, kNv>;
}

template <int... Ms>
MicroKernel kernel_by_rows(int m, int n, std::integer_sequence<int, Ms...>) {
  MicroKernel k = nullptr;
  ((m == Ms + 1 ? (k = kernel_for_rows<Ms + 1>(n), 0) : 0), ...);
  return k;
}

MicroKernel select_kernel(int m, int n) {
  return kernel_by_rows(m, n, std::make_integer_sequence<int, kMr>());
}

// In-place transpose of an 8 x 8 block held in 8 registers.
DISMAX_AVX2_INLINE void transpose8(__m256 (&r)[8]) {
  __m256 t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[4q + s] holds columns s and s+4 of rows 4q..4q+3, one 128-bit lane each.
#pragma GCC unroll 2
  for (int q = 0; q < 8; q += 4) {
    u[q] = _mm256_shuffle_ps(t[q], t[q + 2], 0x44);
    u[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], 0xEE);
    u[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0x44);
    u[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int s = 0; s < 4; ++s) {
    r[s] = _mm256_permute2f128_ps(u[s], u[4 + s], 0x20);
    r[s + 4] = _mm256_permute2f128_ps(u[s], u[4 + s], 0x31);
  }
}

DISMAX_AVX2 void pack(float* dst, int w, const float* src, int64_t s_i, int64_t s_k, int64_t r, int64_t kc) {
  if (s_i == 1) {
    // Each k step is a contiguous run of r floats: copy it with masked loads and zero-fill to w.
    for (int64_t k = 0; k < kc; ++k) {
      const float* s = src + k * s_k;
      float* d = dst + k * w;
      for (int i0 = 0; i0 < w; i0 += 8) {
        const __m256 v = _mm256_maskload_ps(s + i0, lane_mask(r - i0));
        _mm256_maskstore_ps(d + i0, lane_mask(w - i0), v);
      }
    }
  } else if (s_k == 1) {
    // Rows of the sliver are contiguous along k: transpose 8 x 8 blocks.
    for (int i0 = 0; i0 < w; i0 += 8) {
      const int64_t ri = std::clamp<int64_t>(r - i0, 0, 8);
      const __m256i store_mask = lane_mask(w - i0);
      for (int64_t k0 = 0; k0 < kc; k0 += 8) {
        const int64_t kk = std::min<int64_t>(8, kc - k0);
        const __m256i load_mask = lane_mask(kk);
        __m256 rows[8];
        for (int j = 0; j < 8; ++j)
          rows[j] = j < ri ? _mm256_maskload_ps(src + (i0 + j) * s_i + k0, load_mask) : _mm256_setzero_ps();
        transpose8(rows);
        for (int64_t j = 0; j < kk; ++j) _mm256_maskstore_ps(dst + (k0 + j) * w + i0, store_mask, rows[j]);
      }
    }
  } else {
    for (int64_t k = 0; k < kc; ++k)
      for (int i = 0; i < w; ++i) dst[k * w + i] = i < r ? src[i * s_i + k * s_k] : 0.0f;
  }
}

const GemmArch kArch = {"avx2", kMr, kNr, 256, 144, 384, pack, select_kernel, nullptr};

}  // namespace

const GemmArch* gemm_arch_avx2() { return &kArch; }

}  // namespace dismax::cpu::detail

#else

namespace dismax::cpu::detail {
const GemmArch* gemm_arch_avx2() { return nullptr; }
}  // namespace dismax::cpu::detail

#endif
