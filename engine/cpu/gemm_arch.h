// Internal to the GEMM: what an ISA-specific translation unit (gemm_avx512.cpp, gemm_avx2.cpp,
// gemm_generic.cpp) hands to the blocked driver in gemm.cpp: block sizes, a packing routine and the
// register-blocked micro-kernels.
#pragma once

#include <cstdint>

namespace dismax::cpu::detail {

// Software prefetch (into L2) of the source of the next B panel, spread over the micro-kernel calls on
// the current one so that reading B from memory overlaps with arithmetic. The region is rows of row_bytes
// contiguous bytes, stride bytes apart. Before each call the driver sets budget; the micro-kernel issues
// at most that many lines, a few per k steps, and advances the cursor (kernels may also ignore it).
struct PrefetchCursor {
  const char* row = nullptr;
  int64_t col = 0;  // byte offset of the next line within row
  int64_t row_bytes = 0;
  int64_t stride = 0;
  int64_t budget = 0;      // lines the current micro-kernel call may issue
  int64_t lines_left = 0;  // lines left in the whole region

  const char* next_line() {
    const char* p = row + col;
    col += 64;
    if (col >= row_bytes) {
      col = 0;
      row += stride;
    }
    --budget;
    --lines_left;
    return p;
  }
};

// Computes C[0:m, 0:n] = alpha * Apack * Bpack + beta * C over kc steps, for an m x n tile (m <= mr,
// n <= nr; m is fixed by the kernel chosen). a holds kc groups of mr floats (one column of an mr-row sliver
// of A each), b kc groups of nr floats (one row of an nr-column sliver of B). beta == 0 never reads C.
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                             float beta, int n, PrefetchCursor* pf);

// A micro-kernel for full-width (n == nr) tiles that packs B as it goes: it reads B from its source rows
// (b_src[k * ldb + j], contiguous along j) and also writes them in packed form to b_pack, so the first A
// sliver of a panel overlaps the packing of B with its arithmetic.
using FusedKernel = void (*)(int64_t kc, const float* a, const float* b_src, int64_t ldb, float* b_pack,
                             float* c, int64_t ldc, float alpha, float beta, PrefetchCursor* pf);

// Packs a w-wide sliver: dst[k * w + i] = src[i * s_i + k * s_k] for i < r, zero for r <= i < w,
// k < kc. Used for A slivers (w = mr, s_i = row stride, s_k = column stride) and B slivers (w = nr,
// s_i = column stride, s_k = row stride).
using PackFn = void (*)(float* dst, int w, const float* src, int64_t s_i, int64_t s_k, int64_t r, int64_t kc);

struct GemmArch {
  const char* name;
  int mr, nr;          // micro-tile: mr rows of C by nr columns (nr a multiple of the vector width)
  int64_t kc, mc, nc;  // cache blocks: depth of packed panels, rows of A per block, columns of B per panel
  PackFn pack;
  MicroKernel (*kernel)(int m, int n);  // kernel for an m x n tile, 1 <= m <= mr, 1 <= n <= nr
  FusedKernel (*fused)(int m);          // packing kernel for an m x nr tile; nullptr if the path has none
};

// Each returns nullptr when the path was not compiled in (non-x86 builds); CPU support is checked by the
// caller.
const GemmArch* gemm_arch_avx512();
const GemmArch* gemm_arch_avx2();
const GemmArch* gemm_arch_generic();

}  // namespace dismax::cpu::detail
