// SGEMM driver: ISA selection, GotoBLAS-style cache blocking and packing around the micro-kernels of
// gemm_avx512.cpp / gemm_avx2.cpp / gemm_generic.cpp, and the split of C between OpenMP threads.
#include "engine/cpu/gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "engine/cpu/gemm_arch.h"
#include "engine/parallel.h"

namespace dismax::cpu {
namespace {

using detail::FusedKernel;
using detail::GemmArch;
using detail::MicroKernel;
using detail::PrefetchCursor;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// ---------------------------------------------------------------------------------------------------
// ISA selection

const GemmArch* arch_of(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::avx512:
      return detail::gemm_arch_avx512();
    case GemmIsa::avx2:
      return detail::gemm_arch_avx2();
    case GemmIsa::generic:
      return detail::gemm_arch_generic();
  }
  return nullptr;
}

bool cpu_has(GemmIsa isa) {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
  switch (isa) {
    case GemmIsa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
    case GemmIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmIsa::generic:
      return true;
  }
  return false;
#else
  return isa == GemmIsa::generic;
#endif
}

GemmIsa best_isa() {
  for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2}) {
    if (gemm_isa_supported(isa)) return isa;
  }
  return GemmIsa::generic;
}

void require_supported(GemmIsa isa, const char* origin) {
  if (!gemm_isa_supported(isa)) {
    throw std::runtime_error(std::string("dismax sgemm: ") + origin + " asks for the " + gemm_isa_name(isa) +
                             " path, which this CPU (or this build) does not support");
  }
}

// DISMAX_ISA picks the path of every vectorised CPU kernel; DISMAX_GEMM_ISA, its earlier name, still works.
GemmIsa isa_from_env() {
  const char* name = "DISMAX_ISA";
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0') env = std::getenv(name = "DISMAX_GEMM_ISA");
  if (env == nullptr || *env == '\0' || std::strcmp(env, "auto") == 0) return best_isa();
  for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2, GemmIsa::generic}) {
    if (std::strcmp(env, gemm_isa_name(isa)) == 0) {
      require_supported(isa, name);
      return isa;
    }
  }
  throw std::runtime_error(std::string("dismax: ") + name + "='" + env + "' is not one of avx512, avx2, generic, auto");
}

constexpr int kIsaUnset = -1;
std::atomic<int> g_isa{kIsaUnset};

const GemmArch& current_arch() { return *arch_of(gemm_isa()); }

// ---------------------------------------------------------------------------------------------------
// Packing buffers: one pair per thread, grown on demand, 64-byte aligned.

class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }

  float* get(int64_t floats) {
    const size_t bytes = static_cast<size_t>(floats) * sizeof(float);
    if (bytes > capacity_) {
      release();
      data_ = static_cast<float*>(::operator new(bytes, std::align_val_t(kAlign)));
      capacity_ = bytes;
    }
    return data_;
  }

 private:
  static constexpr size_t kAlign = 64;
  void release() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t(kAlign));
    data_ = nullptr;
    capacity_ = 0;
  }
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

thread_local PackBuffer t_pack_a;
thread_local PackBuffer t_pack_b;

constexpr int64_t kMaxKeptA = int64_t{4} << 20;  // floats of packed A a thread keeps across N panels

// ---------------------------------------------------------------------------------------------------
// Single-threaded blocked GEMM on one block of C.

// Block size no larger than `target` that splits `total` into equal parts, rounded up to `multiple`.
int64_t balanced_block(int64_t total, int64_t target, int64_t multiple) {
  const int64_t parts = ceil_div(total, target);
  return round_up(ceil_div(total, parts), multiple);
}

// Prefetch region for the source of a K x N block of B at (p0, j0), when B rows or columns are contiguous.
PrefetchCursor source_region(const MatView& B, int64_t p0, int64_t j0, int64_t kc, int64_t nc) {
  PrefetchCursor r;
  int64_t rows = 0;
  if (B.col_stride == 1) {
    r.row = reinterpret_cast<const char*>(B.data + p0 * B.row_stride + j0);
    rows = kc;
    r.row_bytes = nc * int64_t(sizeof(float));
    r.stride = B.row_stride * int64_t(sizeof(float));
  } else if (B.row_stride == 1) {
    r.row = reinterpret_cast<const char*>(B.data + p0 + j0 * B.col_stride);
    rows = nc;
    r.row_bytes = kc * int64_t(sizeof(float));
    r.stride = B.col_stride * int64_t(sizeof(float));
  }
  r.lines_left = rows * ceil_div(r.row_bytes, 64);
  return r;
}

// One thread's block of the product: rows [i_base, i_base + M) and columns [j_base, j_base + N) of the
// whole C. View operands arrive already offset to the block; sources and C are indexed globally.
struct BlockOperands {
  GemmOperand A, B;
  GroupedC C;
  int64_t i_base = 0, j_base = 0;
  uint64_t call = 0;      // which sgemm call the block belongs to
  bool shared_a = false;  // other blocks of the call use the same rows of A
};

// Which rows of whose A the thread's packing buffer holds, whole (all K panels).
struct PackedA {
  uint64_t call = 0;
  int64_t i_base = -1, rows = 0;
  bool operator==(const PackedA& o) const { return call == o.call && i_base == o.i_base && rows == o.rows; }
};
thread_local PackedA t_packed_a;
std::atomic<uint64_t> g_calls{0};

// dst (rows x len, row stride ldd) = alpha * src + beta * dst; dst is not read when beta == 0.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void scale_add_rows(float* dst, int64_t ldd, const float* src, int64_t lds, int rows, int len, float alpha,
                    float beta) {
  for (int r = 0; r < rows; ++r, dst += ldd, src += lds) {
    if (beta == 0.0f) {
      for (int t = 0; t < len; ++t) dst[t] = alpha * src[t];
    } else {
      for (int t = 0; t < len; ++t) dst[t] = alpha * src[t] + beta * dst[t];
    }
  }
}

// Writes one micro-tile of C: straight into C when its columns lie in one group of C, else into a local
// tile that is then copied out group by group (only where a group is not a multiple of nr wide).
class TileWriter {
 public:
  TileWriter(const GroupedC& C, int nr) : C_(C), nr_(nr) {}

  // Where the kernel should write the tile at global row i, column j, n columns wide.
  float* target(int64_t i, int64_t j, int n, int64_t* ldc) {
    const int64_t g = j / C_.group, jj = j - g * C_.group;
    split_ = jj + n > C_.group;
    i_ = i;
    j_ = j;
    if (!split_) {
      *ldc = C_.ldc;
      return C_.data + i * C_.ldc + g * C_.group_stride + jj;
    }
    *ldc = nr_;
    return local_;
  }
  bool split() const { return split_; }

  // After a split tile was computed into the local tile with alpha 1 and beta 0: C = alpha * tile + beta * C.
  void finish(int m, int n, float alpha, float beta) const {
    for (int c0 = 0; c0 < n;) {
      const int64_t j = j_ + c0, g = j / C_.group, jj = j - g * C_.group;
      const int len = int(std::min<int64_t>(n - c0, C_.group - jj));
      scale_add_rows(C_.data + i_ * C_.ldc + g * C_.group_stride + jj, C_.ldc, local_ + c0, nr_, m, len,
                     alpha, beta);
      c0 += len;
    }
  }

 private:
  static constexpr int kMaxTile = 32 * 32;
  GroupedC C_;
  int nr_;
  bool split_ = false;
  int64_t i_ = 0, j_ = 0;
  alignas(64) float local_[kMaxTile];
};

// Loop order (outer to inner): N panels of nc columns, K panels of kc, blocks of at most mc rows of A
// (packed into slivers of mr rows of equal heights, so 64 rows run as 13+13+13+13+12 rather than
// 14*4+8), A slivers (each stays in L1 while it sweeps the panel), B slivers (the packed B panel streams
// from L2, and C is written along its rows).
// B slivers are packed when first used; when B rows are contiguous, by the fused micro-kernel, which
// overlaps that copy with arithmetic. Meanwhile the micro-kernels prefetch the source of the next B
// panel, so that reading B from memory overlaps with arithmetic too.
void gemm_serial(const GemmArch& arch, int64_t M, int64_t N, int64_t K, float alpha, const BlockOperands& op,
                 float beta) {
  const MatView& A = op.A.view;
  const MatView& B = op.B.view;
  const PackSource* a_source = op.A.source;
  const PackSource* b_source = op.B.source;
  const int mr = arch.mr, nr = arch.nr;
  const bool sources = a_source != nullptr || b_source != nullptr;
  const int64_t kc = balanced_block(K, arch.kc, sources ? kPackDepthAlign : 1);
  const int64_t nc = balanced_block(N, arch.nc, nr);
  const int64_t mc = balanced_block(M, arch.mc, mr);
  // With several N panels, A is packed once, whole, and reused by the later panels (unless huge).
  int64_t a_rows_packed = 0;  // rows of the whole packed A: every block's slivers at full height mr
  for (int64_t i0 = 0; i0 < M; i0 += mc) a_rows_packed += ceil_div(std::min(mc, M - i0), mr) * mr;
  const bool keep_a = (N > nc || op.shared_a) && a_rows_packed * K <= kMaxKeptA;
  float* pack_a = t_pack_a.get(keep_a ? a_rows_packed * K : mc * kc);
  // This thread's previous task of the same call may have packed the same rows of A already.
  const PackedA owner{op.call, op.i_base, M};
  const bool a_ready = keep_a && op.shared_a && t_packed_a == owner;
  t_packed_a = keep_a && op.shared_a ? owner : PackedA{};
  float* pack_b = t_pack_b.get(kc * nc);
  const bool fuse = arch.fused != nullptr && b_source == nullptr && B.col_stride == 1;
  TileWriter writer(op.C, nr);

  for (int64_t j0 = 0; j0 < N; j0 += nc) {
    const int64_t nb = std::min(nc, N - j0);
    const int64_t b_slivers = ceil_div(nb, nr);
    for (int64_t p0 = 0; p0 < K; p0 += kc) {
      const int64_t kb = std::min(kc, K - p0);
      const float* b_src = B.data + p0 * B.row_stride + j0 * B.col_stride;
      const float beta_eff = p0 == 0 ? beta : 1.0f;

      PrefetchCursor pf;
      if (b_source == nullptr) {
        if (p0 + kc < K) {
          pf = source_region(B, p0 + kc, j0, std::min(kc, K - p0 - kc), nb);
        } else if (j0 + nc < N) {
          pf = source_region(B, 0, j0 + nc, std::min(kc, K), std::min(nc, N - j0 - nc));
        }
      }
      int64_t calls_left = 0;
      for (int64_t i0 = 0; i0 < M; i0 += mc) calls_left += ceil_div(std::min(mc, M - i0), mr) * b_slivers;

      float* a_block = keep_a ? pack_a + p0 * a_rows_packed : pack_a;
      for (int64_t i0 = 0; i0 < M; i0 += mc) {
        const int64_t mb = std::min(mc, M - i0);
        const int64_t a_slivers = ceil_div(mb, mr);
        for (int64_t q = 0; q < a_slivers; ++q) {
          const int64_t r0 = q * mb / a_slivers, m = (q + 1) * mb / a_slivers - r0;
          float* a_sliver = a_block + q * mr * kb;
          if (keep_a && (a_ready || j0 > 0)) {
            // packed by the first panel
          } else if (a_source != nullptr) {
            a_source->pack(a_sliver, mr, op.i_base + i0 + r0, m, p0, kb);
          } else {
            arch.pack(a_sliver, mr, A.data + (i0 + r0) * A.row_stride + p0 * A.col_stride, A.row_stride,
                      A.col_stride, m, kb);
          }
          const bool first_use = i0 == 0 && q == 0;
          const MicroKernel full = arch.kernel(int(m), nr);
          const FusedKernel fused = fuse && first_use ? arch.fused(int(m)) : nullptr;
          for (int64_t s = 0; s < b_slivers; ++s) {
            const int64_t j = s * nr;
            const int n = int(std::min<int64_t>(nr, nb - j));
            float* b_sliver = pack_b + j * kb;
            int64_t ldc = 0;
            float* c_tile = writer.target(op.i_base + i0 + r0, op.j_base + j0 + j, n, &ldc);
            const bool split = writer.split();
            const float k_alpha = split ? 1.0f : alpha, k_beta = split ? 0.0f : beta_eff;
            pf.budget = ceil_div(pf.lines_left, calls_left);
            --calls_left;
            if (fused != nullptr && n == nr) {
              fused(kb, a_sliver, b_src + j, B.row_stride, b_sliver, c_tile, ldc, k_alpha, k_beta, &pf);
            } else {
              if (first_use) {
                if (b_source != nullptr) {
                  b_source->pack(b_sliver, nr, op.j_base + j0 + j, n, p0, kb);
                } else {
                  arch.pack(b_sliver, nr, b_src + j * B.col_stride, B.col_stride, B.row_stride, n, kb);
                }
              }
              const MicroKernel kernel = n == nr ? full : arch.kernel(int(m), n);
              kernel(kb, a_sliver, b_sliver, c_tile, ldc, k_alpha, k_beta, n, &pf);
            }
            if (split) writer.finish(int(m), n, alpha, beta_eff);
          }
        }
        if (keep_a) a_block += a_slivers * mr * kb;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Threading: C is cut into a tm x tn grid of blocks of whole micro-tiles, one per thread. Each thread
// packs the parts of A and B its block needs, so threads never wait on each other; the grid shape is
// the one with the least estimated time (work of the biggest block plus its packing traffic).

struct Grid {
  int tm = 1, tn = 1;
};

Grid choose_grid(const GemmArch& arch, int64_t M, int64_t N, int64_t K, int threads) {
  const int64_t m_tiles = ceil_div(M, arch.mr), n_tiles = ceil_div(N, arch.nr);
  Grid best;
  double best_cost = -1;
  for (int tm = 1; tm <= threads; ++tm) {
    if (threads % tm != 0) continue;
    const int tn = threads / tm;
    if (tm > m_tiles || tn > n_tiles) continue;
    const double m = double(ceil_div(m_tiles, tm) * arch.mr), n = double(ceil_div(n_tiles, tn) * arch.nr);
    // A packed element costs about as much as 40 multiply-adds (memory-bound packing vs. FMA peak).
    const double packed = m * double(K) * double(ceil_div(int64_t(n), arch.nc)) + n * double(K);
    const double cost = m * n * double(K) + 40.0 * packed;
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {tm, tn};
    }
  }
  return best;
}

void scale_c(int64_t M, int64_t N, float beta, float* c, int64_t ldc) {
  if (beta == 1.0f) return;
  for (int64_t i = 0; i < M; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + N, 0.0f);
    } else {
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}

constexpr int64_t kMinParallelWork = int64_t(64) * 64 * 64;
constexpr int64_t kGemmTasksPerThread = 4;  // column ranges per thread, at most, when the columns are split

}  // namespace

// ---------------------------------------------------------------------------------------------------

bool gemm_isa_supported(GemmIsa isa) { return arch_of(isa) != nullptr && cpu_has(isa); }

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::generic:
      return "generic";
    case GemmIsa::avx2:
      return "avx2";
    case GemmIsa::avx512:
      return "avx512";
  }
  return "unknown";
}

GemmIsa gemm_isa() {
  int isa = g_isa.load(std::memory_order_acquire);
  if (isa == kIsaUnset) {
    const int resolved = static_cast<int>(isa_from_env());
    // Another thread may have resolved (or forced) it meanwhile; keep whichever came first.
    if (g_isa.compare_exchange_strong(isa, resolved, std::memory_order_acq_rel)) isa = resolved;
  }
  return static_cast<GemmIsa>(isa);
}

void set_gemm_isa(GemmIsa isa) {
  require_supported(isa, "set_gemm_isa");
  g_isa.store(static_cast<int>(isa), std::memory_order_release);
}

void sgemm(int64_t M, int64_t N, int64_t K, float alpha, GemmOperand A, GemmOperand B, float beta,
           GroupedC C) {
  if (M < 0 || N < 0 || K < 0) throw std::invalid_argument("dismax sgemm: negative matrix size");
  if (C.group <= 0) throw std::invalid_argument("dismax sgemm: C column groups must be positive");
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) {
    for (int64_t j = 0; j < N;) {
      const int64_t g = j / C.group, jj = j - g * C.group, len = std::min(N - j, C.group - jj);
      scale_c(M, len, beta, C.data + g * C.group_stride + jj, C.ldc);
      j += len;
    }
    return;
  }
  const GemmArch& arch = current_arch();
  const uint64_t call = g_calls.fetch_add(1, std::memory_order_relaxed) + 1;

  // omp_set_num_threads lowers the count too (bench_gemm uses it).
  int threads = in_parallel_region() ? 1 : std::min(num_threads(), omp_get_max_threads());
  if (M * N * K < kMinParallelWork) threads = 1;
  const Grid grid = threads > 1 ? choose_grid(arch, M, N, K, threads) : Grid{};
  if (grid.tm * grid.tn == 1) {
    gemm_serial(arch, M, N, K, alpha, BlockOperands{A, B, C, 0, 0, call}, beta);
    return;
  }
  // Tasks: grid.tm row blocks, each with its columns cut into a few ranges that threads claim as they go
  // (so a thread slowed down by other processes takes fewer). A thread keeps its packed rows of A across
  // the ranges it takes. Ranges stay at least nc/2 wide, so that each A sliver still sweeps several B
  // slivers (a big A comes from L3), and several nc panels wide where N allows, so that the prefetch of
  // the next B panel keeps working (one task per panel was 25% slower on 64x576x32768, whose B comes
  // from memory); their count is a multiple of the threads, so that a quiet machine stays balanced.
  const int64_t m_tiles = ceil_div(M, arch.mr), n_tiles = ceil_div(N, arch.nr);
  const int64_t per_thread = std::clamp<int64_t>(N / (grid.tn * (arch.nc / 2)), 1, kGemmTasksPerThread);
  const int64_t n_tasks = std::min(n_tiles, grid.tn * per_thread);
  parallel_tasks(grid.tm * n_tasks, threads, [&](int64_t t) {
    const int64_t ti = t / n_tasks, tj = t % n_tasks;
    const int64_t i0 = std::min(M, m_tiles * ti / grid.tm * arch.mr);
    const int64_t i1 = std::min(M, m_tiles * (ti + 1) / grid.tm * arch.mr);
    const int64_t j0 = std::min(N, n_tiles * tj / n_tasks * arch.nr);
    const int64_t j1 = std::min(N, n_tiles * (tj + 1) / n_tasks * arch.nr);
    if (i0 >= i1 || j0 >= j1) return;
    BlockOperands op{A, B, C, i0, j0, call, per_thread > 1};
    if (A.source == nullptr) op.A.view.data = A.view.data + i0 * A.view.row_stride;
    if (B.source == nullptr) op.B.view.data = B.view.data + j0 * B.view.col_stride;
    gemm_serial(arch, i1 - i0, j1 - j0, K, alpha, op, beta);
  });
}

void sgemm(int64_t M, int64_t N, int64_t K, float alpha, MatView A, MatView B, float beta, float* c,
           int64_t ldc) {
  sgemm(M, N, K, alpha, GemmOperand(A), GemmOperand(B), beta, GroupedC{c, ldc, std::max<int64_t>(N, 1), 0});
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const MatView A = trans_a ? MatView{a, 1, lda} : MatView{a, lda, 1};
  const MatView B = trans_b ? MatView{b, 1, ldb} : MatView{b, ldb, 1};
  sgemm(M, N, K, alpha, A, B, beta, c, ldc);
}

}  // namespace dismax::cpu
