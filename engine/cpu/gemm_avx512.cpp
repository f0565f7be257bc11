// AVX-512 GEMM path: a 14 x 32 micro-kernel (28 zmm accumulators) and packing with 16 x 16 in-register
// transposes. Compiled through function attributes, so the file builds without -m flags and only runs
// when the dispatcher in gemm.cpp has checked the CPU.
#include "engine/cpu/gemm_arch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <algorithm>
#include <utility>

#include "engine/cpu/avx512_util.h"

namespace dismax::cpu::detail {
namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;
constexpr int64_t kFusedPrefetchRows = 8;  // k steps ahead that the fused kernel prefetches B rows
constexpr int64_t kPackPrefetch = 64;      // floats ahead that the transposing pack prefetches

// Narrow tiles (n <= 16): intrinsics, one zmm per row.
template <int M>
DISMAX_AVX512 void narrow_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                 float alpha, float beta, int n, PrefetchCursor*) {
  __m512 acc[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += kMr, b += kNr) {
    const __m512 bv = _mm512_load_ps(b);
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), bv, acc[i]);
  }
  const __mmask16 mask = lane_mask(n);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    __m512 r = _mm512_mul_ps(acc[i], va);
    if (beta != 0.0f) r = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, c + i * ldc), vb, r);
    _mm512_mask_storeu_ps(c + i * ldc, mask, r);
  }
}

// Full-width tiles: the k loop is inline assembly, because GCC's register allocation of 28 accumulators
// from intrinsics costs ~8% of peak. Accumulators of row i live in zmm(2i), zmm(2i+1); B in zmm28/29;
// broadcasts of A alternate between zmm30/31; offsets hard-code the 14 x 32 packed layout. The loop also
// issues the next-panel prefetches of the PrefetchCursor (two per four k steps at most).
static_assert(kMr == 14 && kNr == 32, "the assembly k loop hard-codes the 14 x 32 packed layout");

// clang-format off
#define DX_ROW(k, i, x0, x1, bc)                             \
  "vbroadcastss " #k "*56+" #i "*4(%[a]), %%zmm" #bc "\n\t" \
  "vfmadd231ps %%zmm28, %%zmm" #bc ", %%zmm" #x0 "\n\t"     \
  "vfmadd231ps %%zmm29, %%zmm" #bc ", %%zmm" #x1 "\n\t"
#define DX_ROWS1(k) DX_ROW(k, 0, 0, 1, 30)
#define DX_ROWS2(k) DX_ROWS1(k) DX_ROW(k, 1, 2, 3, 31)
#define DX_ROWS3(k) DX_ROWS2(k) DX_ROW(k, 2, 4, 5, 30)
#define DX_ROWS4(k) DX_ROWS3(k) DX_ROW(k, 3, 6, 7, 31)
#define DX_ROWS5(k) DX_ROWS4(k) DX_ROW(k, 4, 8, 9, 30)
#define DX_ROWS6(k) DX_ROWS5(k) DX_ROW(k, 5, 10, 11, 31)
#define DX_ROWS7(k) DX_ROWS6(k) DX_ROW(k, 6, 12, 13, 30)
#define DX_ROWS8(k) DX_ROWS7(k) DX_ROW(k, 7, 14, 15, 31)
#define DX_ROWS9(k) DX_ROWS8(k) DX_ROW(k, 8, 16, 17, 30)
#define DX_ROWS10(k) DX_ROWS9(k) DX_ROW(k, 9, 18, 19, 31)
#define DX_ROWS11(k) DX_ROWS10(k) DX_ROW(k, 10, 20, 21, 30)
#define DX_ROWS12(k) DX_ROWS11(k) DX_ROW(k, 11, 22, 23, 31)
#define DX_ROWS13(k) DX_ROWS12(k) DX_ROW(k, 12, 24, 25, 30)
#define DX_ROWS14(k) DX_ROWS13(k) DX_ROW(k, 13, 26, 27, 31)
// B of one k step: from the packed panel, or (fused) from the source row of B, prefetching the row
// kFusedPrefetchRows ahead and storing the packed copy.
#define DX_LOAD_PACKED(k) "vmovaps " #k "*128(%[b]), %%zmm28\n\t" "vmovaps " #k "*128+64(%[b]), %%zmm29\n\t"
#define DX_LOAD_FUSED(k)                                                                                  \
  "vmovups (%[bs]), %%zmm28\n\t" "vmovups 64(%[bs]), %%zmm29\n\t"                                         \
  "prefetcht0 (%[bs], %[pfd])\n\t" "prefetcht0 64(%[bs], %[pfd])\n\t" "prefetcht0 127(%[bs], %[pfd])\n\t" \
  "add %[ldb], %[bs]\n\t"                                                                                \
  "vmovaps %%zmm28, " #k "*128(%[b])\n\t" "vmovaps %%zmm29, " #k "*128+64(%[b])\n\t"
#define DX_ST(i, x0, x1) "vmovaps %%zmm" #x0 ", " #i "*128(%[acc])\n\t" "vmovaps %%zmm" #x1 ", " #i "*128+64(%[acc])\n\t"
#define DX_ST1 DX_ST(0, 0, 1)
#define DX_ST2 DX_ST1 DX_ST(1, 2, 3)
#define DX_ST3 DX_ST2 DX_ST(2, 4, 5)
#define DX_ST4 DX_ST3 DX_ST(3, 6, 7)
#define DX_ST5 DX_ST4 DX_ST(4, 8, 9)
#define DX_ST6 DX_ST5 DX_ST(5, 10, 11)
#define DX_ST7 DX_ST6 DX_ST(6, 12, 13)
#define DX_ST8 DX_ST7 DX_ST(7, 14, 15)
#define DX_ST9 DX_ST8 DX_ST(8, 16, 17)
#define DX_ST10 DX_ST9 DX_ST(9, 18, 19)
#define DX_ST11 DX_ST10 DX_ST(10, 20, 21)
#define DX_ST12 DX_ST11 DX_ST(11, 22, 23)
#define DX_ST13 DX_ST12 DX_ST(12, 24, 25)
#define DX_ST14 DX_ST13 DX_ST(13, 26, 27)
#define DX_ZERO2(x0, x1) "vpxord %%zmm" #x0 ", %%zmm" #x0 ", %%zmm" #x0 "\n\tvpxord %%zmm" #x1 ", %%zmm" #x1 ", %%zmm" #x1 "\n\t"
#define DX_ZERO_ALL                                                                                       \
  DX_ZERO2(0, 1) DX_ZERO2(2, 3) DX_ZERO2(4, 5) DX_ZERO2(6, 7) DX_ZERO2(8, 9) DX_ZERO2(10, 11)             \
  DX_ZERO2(12, 13) DX_ZERO2(14, 15) DX_ZERO2(16, 17) DX_ZERO2(18, 19) DX_ZERO2(20, 21) DX_ZERO2(22, 23)  \
  DX_ZERO2(24, 25) DX_ZERO2(26, 27)
// One prefetch of the next-panel cursor (row + col, advancing to the next row at row_bytes), if budget.
#define DX_PF(L)                     \
  "test %[budget], %[budget]\n\t"   \
  "jz " #L "f\n\t"                  \
  "prefetcht1 (%[row], %[col])\n\t" \
  "dec %[budget]\n\t"               \
  "add $64, %[col]\n\t"             \
  "cmp %[row_bytes], %[col]\n\t"    \
  "jb " #L "f\n\t"                  \
  "xor %[col], %[col]\n\t"          \
  "add %[stride], %[row]\n\t" #L ":\n\t"
#define DX_LOOP(M, LOAD)                                                                            \
  asm volatile(DX_ZERO_ALL                                                                          \
               "test %[n4], %[n4]\n\t"                                                              \
               "jz 2f\n\t"                                                                          \
               "1:\n\t" LOAD(0) DX_ROWS##M(0) LOAD(1) DX_ROWS##M(1) DX_PF(3) LOAD(2) DX_ROWS##M(2)    \
               LOAD(3) DX_ROWS##M(3) DX_PF(6)                                                       \
               "add $224, %[a]\n\t"                                                                 \
               "add $512, %[b]\n\t"                                                                 \
               "dec %[n4]\n\t"                                                                      \
               "jnz 1b\n\t"                                                                         \
               "2:\n\t"                                                                             \
               "test %[n1], %[n1]\n\t"                                                              \
               "jz 5f\n\t"                                                                          \
               "4:\n\t" LOAD(0) DX_ROWS##M(0)                                                       \
               "add $56, %[a]\n\t"                                                                  \
               "add $128, %[b]\n\t"                                                                 \
               "dec %[n1]\n\t"                                                                      \
               "jnz 4b\n\t"                                                                         \
               "5:\n\t" DX_ST##M                                                                    \
               : [a] "+r"(a), [b] "+r"(b), [bs] "+r"(bs), [n4] "+r"(n4), [n1] "+r"(n1), [row] "+r"(row), \
                 [col] "+r"(col), [budget] "+r"(budget)                                             \
               : [ldb] "r"(ldb_bytes), [pfd] "r"(ldb_bytes * kFusedPrefetchRows),                     \
                 [row_bytes] "r"(pf->row_bytes), [stride] "r"(pf->stride), [acc] "r"(acc)             \
               : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", \
                 "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", \
                 "xmm29", "xmm30", "xmm31")
// clang-format on

// Runs the k loop of an M x 32 tile and leaves the accumulators in acc (M rows of 32). With kFused, B comes
// from the source rows bs (ldb_bytes apart) and is also written, packed, to b.
template <int M, bool kFused>
DISMAX_AVX512_INLINE void k_loop(int64_t kc, const float* a, const float* b, const float* bs,
                                 int64_t ldb_bytes, float* acc, PrefetchCursor* pf) {
  int64_t n4 = kc / 4, n1 = kc % 4;
  const char* row = pf->row;
  int64_t col = pf->col;
  int64_t budget = std::min(pf->budget, 2 * n4);
  const int64_t issued = budget;
#define DX_CASE(m)                  \
  do {                              \
    if constexpr (M == m) {         \
      if constexpr (kFused) {       \
        DX_LOOP(m, DX_LOAD_FUSED);  \
      } else {                      \
        DX_LOOP(m, DX_LOAD_PACKED); \
      }                             \
    }                               \
  } while (0)
  DX_CASE(1);
  DX_CASE(2);
  DX_CASE(3);
  DX_CASE(4);
  DX_CASE(5);
  DX_CASE(6);
  DX_CASE(7);
  DX_CASE(8);
  DX_CASE(9);
  DX_CASE(10);
  DX_CASE(11);
  DX_CASE(12);
  DX_CASE(13);
  DX_CASE(14);
#undef DX_CASE
  pf->row = row;
  pf->col = col;
  pf->lines_left -= issued - budget;
  pf->budget = budget;
}

// C[0:M, 0:n] = alpha * acc + beta * C (C not read when beta == 0).
template <int M>
DISMAX_AVX512_INLINE void store_tile(const float* acc, float* c, int64_t ldc, float alpha, float beta,
                                     int n) {
  const __mmask16 mask0 = lane_mask(n), mask1 = lane_mask(n - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      _mm512_mask_storeu_ps(c + i * ldc, mask0, _mm512_mul_ps(_mm512_load_ps(acc + i * kNr), va));
      _mm512_mask_storeu_ps(c + i * ldc + 16, mask1, _mm512_mul_ps(_mm512_load_ps(acc + i * kNr + 16), va));
    }
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      float* p = c + i * ldc;
      const __m512 c0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask0, p), vb);
      const __m512 c1 = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask1, p + 16), vb);
      _mm512_mask_storeu_ps(p, mask0, _mm512_fmadd_ps(_mm512_load_ps(acc + i * kNr), va, c0));
      _mm512_mask_storeu_ps(p + 16, mask1, _mm512_fmadd_ps(_mm512_load_ps(acc + i * kNr + 16), va, c1));
    }
  }
}

// Starts loading the C tile (M rows of 32 floats, up to 3 lines each when unaligned) so that it is in L1
// by the time the k loop is done. Not when the rows are a multiple of 4 KiB apart (convolution outputs of
// 32x32 planes): then they all fall into the same few L1 sets and the early lines evict A and B
// (measured: 140 instead of 205 GFLOP/s).
template <int M>
DISMAX_AVX512_INLINE void prefetch_tile(const float* c, int64_t ldc) {
  if (ldc % 1024 == 0) return;
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const char* p = reinterpret_cast<const char*>(c + i * ldc);
    _mm_prefetch(p, _MM_HINT_T0);
    _mm_prefetch(p + 64, _MM_HINT_T0);
    _mm_prefetch(p + 127, _MM_HINT_T0);
  }
}

template <int M>
DISMAX_AVX512 void wide_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                               float beta, int n, PrefetchCursor* pf) {
  alignas(64) float acc[M * kNr];
  prefetch_tile<M>(c, ldc);
  k_loop<M, false>(kc, a, b, nullptr, 0, acc, pf);
  store_tile<M>(acc, c, ldc, alpha, beta, n);
}

template <int M>
DISMAX_AVX512 void fused_kernel(int64_t kc, const float* a, const float* b_src, int64_t ldb, float* b_pack,
                                float* c, int64_t ldc, float alpha, float beta, PrefetchCursor* pf) {
  alignas(64) float acc[M * kNr];
  prefetch_tile<M>(c, ldc);
  k_loop<M, true>(kc, a, b_pack, b_src, ldb * int64_t(sizeof(float)), acc, pf);
  store_tile<M>(acc, c, ldc, alpha, beta, kNr);
}

template <int... Ms>
FusedKernel fused_by_rows(int m, std::integer_sequence<int, Ms...>) {
  FusedKernel k = nullptr;
  ((m == Ms + 1 ? (k = fused_kernel<Ms + 1>, 0) : 0), ...);
  return k;
}

FusedKernel select_fused(int m) { return fused_by_rows(m, std::make_integer_sequence<int, kMr>()); }

template <int M>
MicroKernel kernel_for_rows(int n) {
  if (n <= 16) return narrow_kernel<M>;
  return wide_kernel<M>;
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

DISMAX_AVX512 void pack(float* dst, int w, const float* src, int64_t s_i, int64_t s_k, int64_t r,
                        int64_t kc) {
  if (s_i == 1) {
    // Each k step is a contiguous run of r floats: copy it with masked loads and zero-fill to w.
    for (int64_t k = 0; k < kc; ++k) {
      const float* s = src + k * s_k;
      float* d = dst + k * w;
      for (int i0 = 0; i0 < w; i0 += 16) {
        const __m512 v = _mm512_maskz_loadu_ps(lane_mask(r - i0), s + i0);
        _mm512_mask_storeu_ps(d + i0, lane_mask(w - i0), v);
      }
    }
  } else if (s_k == 1) {
    // Rows of the sliver are contiguous along k: transpose 16 x 16 blocks, walking all rows together and
    // prefetching a few lines ahead in each (the source often comes from memory).
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
      const int64_t kk = std::min<int64_t>(16, kc - k0);
      const __mmask16 load_mask = lane_mask(kk);
      for (int i0 = 0; i0 < w; i0 += 16) {
        const int64_t ri = std::clamp<int64_t>(r - i0, 0, 16);
        __m512 rows[16];
        for (int j = 0; j < 16; ++j) {
          if (j < ri) {
            const float* p = src + (i0 + j) * s_i + k0;
            _mm_prefetch(reinterpret_cast<const char*>(p + kPackPrefetch), _MM_HINT_T0);
            rows[j] = _mm512_maskz_loadu_ps(load_mask, p);
          } else {
            rows[j] = _mm512_setzero_ps();
          }
        }
        transpose16(rows);
        const __mmask16 store_mask = lane_mask(w - i0);
        for (int64_t j = 0; j < kk; ++j) _mm512_mask_storeu_ps(dst + (k0 + j) * w + i0, store_mask, rows[j]);
      }
    }
  } else {
    for (int64_t k = 0; k < kc; ++k)
      for (int i = 0; i < w; ++i) dst[k * w + i] = i < r ? src[i * s_i + k * s_k] : 0.0f;
  }
}

const GemmArch kArch = {"avx512", kMr, kNr, 256, 336, 384, pack, select_kernel, select_fused};

}  // namespace

const GemmArch* gemm_arch_avx512() { return &kArch; }

}  // namespace dismax::cpu::detail

#else

namespace dismax::cpu::detail {
const GemmArch* gemm_arch_avx512() { return nullptr; }
}  // namespace dismax::cpu::detail

#endif
