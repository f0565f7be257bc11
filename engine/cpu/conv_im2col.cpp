// Implicit im2col packing (see conv_im2col.h). Each 16-column block of the column matrix is described
// once per shape (window offsets, padding masks, runs of lanes that are adjacent in x); packing then
// reads a row of a block with one masked load per run, or with a gather when the stride scatters the
// lanes. The flipped-kernel operand of input gradients is packed with gathers from the kernel.
#include "engine/cpu/conv_im2col.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

#include "engine/cpu/common.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "engine/cpu/avx512_util.h"
#define DISMAX_HAVE_AVX512_IM2COL 1
#endif

namespace dismax::cpu {

namespace {
// x + offset, for offsets that may point before x (an image's padding: those lanes are masked off):
// integer arithmetic, as such a pointer is not a valid C++ one.
inline const float* at(const float* x, int64_t offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<intptr_t>(x) +
                                        intptr_t(offset) * intptr_t(sizeof(float)));
}
}  // namespace

bool Im2colSource::supported(const ConvShape& s) {
#ifdef DISMAX_HAVE_AVX512_IM2COL
  // Gathers and block offsets are 32-bit.
  const int64_t limit = std::numeric_limits<int32_t>::max() / 2;
  return gemm_isa() == GemmIsa::avx512 && s.R <= kMaxKernel && s.S <= kMaxKernel &&
         s.N * s.C * s.H * s.W < limit && s.cols() < limit && s.rows() < limit;
#else
  (void)s;
  return false;
#endif
}

namespace {

using Blocks = std::vector<Im2colSource::Block>;
constexpr int kMaxSegments = Im2colSource::kMaxSegments;

std::shared_ptr<const Blocks> make_blocks(const ConvShape& s) {
  const int64_t PQ = s.P * s.Q, CHW = s.C * s.H * s.W, cols = s.cols();
  auto blocks = std::make_shared<Blocks>(size_t((cols + 15) / 16));
  parallel_for(0, int64_t(blocks->size()), 64, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Im2colSource::Block& blk = (*blocks)[size_t(b)];
      int64_t prev_offset = 0;
      bool gather = s.stride_w != 1;
      for (int t = 0; t < 16; ++t) {
        const int64_t col = b * 16 + t;
        if (col >= cols) break;
        const uint16_t bit = uint16_t(1u << t);
        const int64_t n = col / PQ, p = col % PQ / s.Q, q = col % s.Q;
        const int64_t ih0 = p * s.stride_h - s.pad_h, iw0 = q * s.stride_w - s.pad_w;
        const int64_t offset = n * CHW + ih0 * s.W + iw0;
        blk.offset[t] = int32_t(offset);
        blk.valid |= bit;
        for (int64_t r = 0; r < s.R; ++r)
          if (ih0 + r >= 0 && ih0 + r < s.H) blk.row_ok[r] |= bit;
        for (int64_t c = 0; c < s.S; ++c)
          if (iw0 + c >= 0 && iw0 + c < s.W) blk.col_ok[c] |= bit;
        // A run continues while the windows are adjacent in x, also across output rows when W == Q
        // (padding "same"): lanes outside the image are masked, so only the offsets matter.
        if (!gather) {
          if (t > 0 && offset == prev_offset + 1) {
            blk.segment_lanes[blk.segments - 1] |= bit;
          } else if (blk.segments == kMaxSegments) {
            gather = true;
          } else {
            blk.segment_lanes[blk.segments] = bit;
            blk.segment_base[blk.segments] = offset - t;
            ++blk.segments;
          }
        }
        prev_offset = offset;
      }
      if (gather) blk.segments = 0;
    }
  });
  return blocks;
}

// Block tables by shape: a training step asks for the same few shapes over and over. The cache holds at
// most kMaxCachedBytes of tables (a CIFAR ResNet-18 step at batch 32 needs a few MB) and starts over
// when that would be exceeded, so changing shapes cannot grow it without bound.
std::shared_ptr<const Blocks> blocks_for(const ConvShape& s) {
  constexpr size_t kMaxCachedBytes = size_t{64} << 20;
  using Key = std::array<int64_t, 12>;
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const Blocks>> cache;
  static size_t cached_bytes = 0;
  const Key key{s.N, s.C, s.H, s.W, s.R, s.S, s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.P, s.Q};
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  std::shared_ptr<const Blocks> blocks = make_blocks(s);
  const size_t bytes = blocks->size() * sizeof(Im2colSource::Block);
  std::lock_guard<std::mutex> lock(mutex);
  if (bytes > kMaxCachedBytes) return blocks;
  if (cached_bytes + bytes > kMaxCachedBytes) {
    cache.clear();
    cached_bytes = 0;
  }
  if (cache.emplace(key, blocks).second) cached_bytes += bytes;
  return blocks;
}

}  // namespace

Im2colSource::Im2colSource(const float* x, const ConvShape& shape, Lanes lanes)
    : x_(x), s_(shape), lanes_(lanes), blocks_(blocks_for(shape)) {}

// The reference form, for slivers that are not 16-aligned along positions.
void Im2colSource::pack_scalar(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const {
  const ConvShape& s = s_;
  const int64_t PQ = s.P * s.Q;
  auto value = [&](int64_t row, int64_t col) -> float {
    const int64_t c = row / (s.R * s.S), r = row / s.S % s.R, t = row % s.S;
    const int64_t n = col / PQ, p = col % PQ / s.Q, q = col % s.Q;
    const int64_t ih = p * s.stride_h - s.pad_h + r, iw = q * s.stride_w - s.pad_w + t;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) return 0.0f;
    return x_[((n * s.C + c) * s.H + ih) * s.W + iw];
  };
  for (int64_t k = 0; k < kc; ++k)
    for (int i = 0; i < w; ++i) {
      float v = 0.0f;
      if (i < rows) v = lanes_ == Lanes::positions ? value(k0 + k, i0 + i) : value(i0 + i, k0 + k);
      dst[k * w + i] = v;
    }
}

#ifdef DISMAX_HAVE_AVX512_IM2COL
namespace {

using Block = Im2colSource::Block;
using detail::lane_mask;
using detail::transpose16;

// Lanes `mask` of block row delta (the (c, r, s) offset c*H*W + r*W + s), the others zero.
DISMAX_AVX512_INLINE __m512 load_row(const float* x, const Block& blk, __mmask16 mask, int64_t delta) {
  if (blk.segments == 0) {
    const __m512i index = _mm512_add_epi32(_mm512_load_si512(blk.offset), _mm512_set1_epi32(int32_t(delta)));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, index, x, 4);
  }
  __m512 v = _mm512_setzero_ps();
  for (int g = 0; g < blk.segments; ++g)
    v = _mm512_mask_loadu_ps(v, mask & blk.segment_lanes[g], at(x, blk.segment_base[g] + delta));
  return v;
}

// Steps (c, r, s) through the rows of the column matrix, keeping the row's offset in x.
struct RowCursor {
  int64_t c, r, s, delta;
  const ConvShape* shape;
  RowCursor(const ConvShape& sh, int64_t row) : shape(&sh) {
    c = row / (sh.R * sh.S);
    r = row / sh.S % sh.R;
    s = row % sh.S;
    delta = (c * sh.H + r) * sh.W + s;
  }
  void next() {
    ++s;
    ++delta;
    if (s < shape->S) return;
    s = 0;
    ++r;
    delta += shape->W - shape->S;
    if (r < shape->R) return;
    r = 0;
    ++c;
    delta += shape->H * shape->W - shape->R * shape->W;
  }
};

// positions: dst[k * w + i] = col[k0 + k][i0 + i], w a multiple of 16 (at most 64) and i0 of 16.
DISMAX_AVX512 void pack_positions(const float* x, const ConvShape& sh, const Block* blocks, int64_t n_blocks,
                                  float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) {
  constexpr int kMaxHalves = 4;
  constexpr int kMaxTaps = Im2colSource::kMaxKernel * Im2colSource::kMaxKernel;
  const int halves = w / 16;
  const int taps = int(sh.R * sh.S);
  const Block* blk[kMaxHalves];
  // Per half and kernel tap (r, s): the lanes inside the image.
  __mmask16 tap_mask[kMaxHalves][kMaxTaps];
  int64_t tap_offset[kMaxTaps];  // r*W + s
  bool single = true;            // every half is one run of adjacent lanes: plain masked loads
  for (int h = 0; h < halves; ++h) {
    // The last sliver may cover fewer blocks than halves: the missing ones are never read.
    const int64_t b = i0 / 16 + h;
    blk[h] = b < n_blocks ? blocks + b : nullptr;
    const __mmask16 lim =
        blk[h] != nullptr && 16 * h < rows ? __mmask16(lane_mask(rows - 16 * h) & blk[h]->valid) : __mmask16(0);
    for (int t = 0; t < taps; ++t)
      tap_mask[h][t] = lim == 0 ? __mmask16(0) : __mmask16(lim & blk[h]->row_ok[t / sh.S] & blk[h]->col_ok[t % sh.S]);
    single &= lim == 0 || blk[h]->segments == 1;
  }
  for (int t = 0; t < taps; ++t) tap_offset[t] = t / sh.S * sh.W + t % sh.S;
  const int64_t HW = sh.H * sh.W;
  int64_t c = k0 / taps;
  int t = int(k0 % taps);
  // The next sliver's first lanes: prefetched row by row, as the image usually comes from L3 or memory.
  const int64_t next_block = i0 / 16 + halves;
  const bool has_next = next_block < n_blocks;
  const int64_t next = has_next ? int64_t(blocks[next_block].offset[0]) : 0;
  if (single && halves == 2) {
    // The common case (at least 16 output columns per image row): two masked loads per row.
    const int64_t base0 = blk[0] != nullptr && blk[0]->segments ? blk[0]->segment_base[0] : 0;
    const int64_t base1 = blk[1] != nullptr && blk[1]->segments ? blk[1]->segment_base[0] : 0;
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t off = c * HW + tap_offset[t];
      if (has_next) {
        const char* p = reinterpret_cast<const char*>(at(x, next + off));
        _mm_prefetch(p, _MM_HINT_T0);
        _mm_prefetch(p + 127, _MM_HINT_T0);
      }
      const __m512 v0 = _mm512_maskz_loadu_ps(tap_mask[0][t], at(x, base0 + off));
      const __m512 v1 = _mm512_maskz_loadu_ps(tap_mask[1][t], at(x, base1 + off));
      _mm512_store_ps(dst + k * 32, v0);
      _mm512_store_ps(dst + k * 32 + 16, v1);
      if (++t == taps) {
        t = 0;
        ++c;
      }
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t off = c * HW + tap_offset[t];
    if (has_next) {
      const char* p = reinterpret_cast<const char*>(at(x, next + off));
      _mm_prefetch(p, _MM_HINT_T0);
      _mm_prefetch(p + 64 * halves - 1, _MM_HINT_T0);
    }
    for (int h = 0; h < halves; ++h) {
      const __mmask16 m = tap_mask[h][t];
      _mm512_store_ps(dst + k * w + 16 * h, m == 0 ? _mm512_setzero_ps() : load_row(x, *blk[h], m, off));
    }
    if (++t == taps) {
      t = 0;
      ++c;
    }
  }
}

// rows: dst[k * w + i] = col[i0 + i][k0 + k], k0 a multiple of 16: 16 rows x 16 positions at a time,
// loaded along positions and transposed.
DISMAX_AVX512 void pack_rows(const float* x, const ConvShape& sh, const Block* blocks, float* dst, int w,
                             int64_t i0, int64_t rows, int64_t k0, int64_t kc) {
  constexpr int kMaxTaps = Im2colSource::kMaxKernel * Im2colSource::kMaxKernel;
  const int taps = int(sh.R * sh.S);
  for (int g = 0; g < w; g += 16) {
    const int n_rows = int(std::clamp<int64_t>(rows - g, 0, 16));
    int64_t delta[16];
    int tap[16];
    RowCursor row(sh, i0 + g);
    for (int t = 0; t < n_rows; ++t, row.next()) {
      delta[t] = row.delta;
      tap[t] = int(row.r * sh.S + row.s);
    }
    const __mmask16 store_mask = lane_mask(w - g);
    for (int64_t kb = k0; kb < k0 + kc; kb += 16) {
      const Block& b = blocks[kb / 16];
      const int64_t kk = std::min<int64_t>(16, k0 + kc - kb);
      const __mmask16 lim = b.valid & lane_mask(kk);
      __mmask16 tap_mask[kMaxTaps];
      for (int t = 0; t < taps; ++t) tap_mask[t] = lim & b.row_ok[t / sh.S] & b.col_ok[t % sh.S];
      __m512 v[16];
      if (b.segments == 1) {
        for (int t = 0; t < 16; ++t)
          v[t] = t < n_rows ? _mm512_maskz_loadu_ps(tap_mask[tap[t]], at(x, b.segment_base[0] + delta[t]))
                            : _mm512_setzero_ps();
      } else {
        for (int t = 0; t < 16; ++t) {
          const __mmask16 m = t < n_rows ? tap_mask[tap[t]] : __mmask16(0);
          v[t] = m == 0 ? _mm512_setzero_ps() : load_row(x, b, m, delta[t]);
        }
      }
      transpose16(v);
      float* d = dst + (kb - k0) * w + g;
      for (int64_t u = 0; u < kk; ++u) _mm512_mask_storeu_ps(d + u * w, store_mask, v[u]);
    }
  }
}

// dst[k * w + i] = w[kk / T][i0 + i][taps[kk % T]] for kk = k0 + k: one gather of `rows` lanes RS apart
// per row (w <= 16).
DISMAX_AVX512 void pack_taps(const float* wt, int64_t C, int64_t RS, const int32_t* taps, int64_t T,
                             float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) {
  const __m512i index = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(int32_t(RS)));
  const __mmask16 lanes = lane_mask(rows), store = lane_mask(w);
  // Each kernel k reads the block w[k][i0 : i0 + rows][:], from memory for big layers: prefetch a few
  // kernels ahead.
  constexpr int64_t kAhead = 4;
  const int64_t block_bytes = rows * RS * int64_t(sizeof(float));
  int64_t k = k0 / T, t = k0 % T;
  for (int64_t r = 0; r < kc; ++r) {
    if (t == 0) {
      const char* ahead = reinterpret_cast<const char*>(at(wt, ((k + kAhead) * C + i0) * RS));
      for (int64_t b = 0; b < block_bytes + 64; b += 64) _mm_prefetch(ahead + b, _MM_HINT_T0);
    }
    const float* base = wt + (k * C + i0) * RS + taps[t];
    _mm512_mask_storeu_ps(dst + r * w, store,
                          _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, index, base, 4));
    if (++t == T) {
      t = 0;
      ++k;
    }
  }
}

}  // namespace
#endif

void KernelTapsSource::pack(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const {
  const int64_t T = int64_t(taps_.size());
#ifdef DISMAX_HAVE_AVX512_IM2COL
  if (w <= 16 && gemm_isa() == GemmIsa::avx512 && RS_ * 16 < std::numeric_limits<int32_t>::max()) {
    pack_taps(w_, C_, RS_, taps_.data(), T, dst, w, i0, rows, k0, kc);
    return;
  }
#endif
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t kk = k0 + k, kernel = kk / T, t = kk % T;
    for (int i = 0; i < w; ++i)
      dst[k * w + i] = i < rows ? w_[(kernel * C_ + i0 + i) * RS_ + taps_[size_t(t)]] : 0.0f;
  }
}

void Im2colSource::pack(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const {
#ifdef DISMAX_HAVE_AVX512_IM2COL
  if (lanes_ == Lanes::rows && k0 % 16 == 0) {
    pack_rows(x_, s_, blocks_->data(), dst, w, i0, rows, k0, kc);
    return;
  }
  if (lanes_ == Lanes::positions && w % 16 == 0 && w <= 64 && i0 % 16 == 0) {
    pack_positions(x_, s_, blocks_->data(), int64_t(blocks_->size()), dst, w, i0, rows, k0, kc);
    return;
  }
#endif
  pack_scalar(dst, w, i0, rows, k0, kc);
}

}  // namespace dismax::cpu
