// AVX-512 helpers shared by the translation units that compile AVX-512 code through function attributes
// (gemm_avx512.cpp, conv_im2col.cpp): the target attribute, lane masks and a 16 x 16 register transpose.
// Include only on x86-64; callers run these only after checking the CPU.
#pragma once

#include <immintrin.h>

#include <cstdint>

// GCC 12 reports the _mm512_undefined_*() inside its own shuffle and reduction intrinsics as
// (maybe-)uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define DISMAX_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define DISMAX_AVX512_INLINE DISMAX_AVX512 __attribute__((always_inline)) inline

namespace dismax::cpu::detail {

// The low n lanes (n clamped to [0, 16]).
DISMAX_AVX512_INLINE __mmask16 lane_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// In-place transpose of a 16 x 16 block held in 16 registers.
DISMAX_AVX512_INLINE void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // After this step u[4q + s] holds columns s, s+4, s+8, s+12 of rows 4q..4q+3, one 128-bit lane each.
  __m512 u[16];
#pragma GCC unroll 4
  for (int q = 0; q < 16; q += 4) {
    const __m512d t0 = _mm512_castps_pd(t[q]), t1 = _mm512_castps_pd(t[q + 1]);
    const __m512d t2 = _mm512_castps_pd(t[q + 2]), t3 = _mm512_castps_pd(t[q + 3]);
    u[q] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
#pragma GCC unroll 4
  for (int s = 0; s < 4; ++s) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0xDD);
    r[s] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[s + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[s + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[s + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

}  // namespace dismax::cpu::detail
