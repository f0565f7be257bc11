// Direct 3x3 stride-1 weight gradient (see conv2d_grad_weight_direct.h).
#include "engine/cpu/conv2d_grad_weight_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/cpu/common.h"
#include "engine/cpu/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "engine/cpu/avx512_util.h"
#define DISMAX_DIRECT_GW 1
#endif

namespace dismax::cpu {

#ifdef DISMAX_DIRECT_GW
namespace {

constexpr int kTaps = 9;
constexpr int kTile = 3;         // output channels per register tile: 3 x 9 accumulators
constexpr int64_t kChunk = 1024;  // positions per pass: the tile's gy rows and an x row stay in L1

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// out[kk * 9 + t] += sum over l < len of g[kk * ldg + l] * x[l + off[t]], for kk < KT; len a multiple of 16.
template <int KT>
DISMAX_AVX512 void tap_sums(const float* g, int64_t ldg, const float* x, const int64_t* off, int64_t len,
                            double* out) {
  __m512 acc[KT][kTaps];
#pragma GCC unroll 3
  for (int kk = 0; kk < KT; ++kk)
#pragma GCC unroll 9
    for (int t = 0; t < kTaps; ++t) acc[kk][t] = _mm512_setzero_ps();
  const float* x0 = x + off[0];
  const float* x1 = x + off[1];
  const float* x2 = x + off[2];
  const float* x3 = x + off[3];
  const float* x4 = x + off[4];
  const float* x5 = x + off[5];
  const float* x6 = x + off[6];
  const float* x7 = x + off[7];
  const float* x8 = x + off[8];
  for (int64_t l = 0; l < len; l += 16) {
    __m512 gv[KT];
#pragma GCC unroll 3
    for (int kk = 0; kk < KT; ++kk) gv[kk] = _mm512_loadu_ps(g + kk * ldg + l);
    const float* xs[kTaps] = {x0 + l, x1 + l, x2 + l, x3 + l, x4 + l, x5 + l, x6 + l, x7 + l, x8 + l};
#pragma GCC unroll 9
    for (int t = 0; t < kTaps; ++t) {
      __m512 xv = _mm512_loadu_ps(xs[t]);
      __asm__("" : "+v"(xv));  // one load per tap: GCC would otherwise fold it into each of the KT FMAs
#pragma GCC unroll 3
      for (int kk = 0; kk < KT; ++kk) acc[kk][t] = _mm512_fmadd_ps(gv[kk], xv, acc[kk][t]);
    }
  }
#pragma GCC unroll 3
  for (int kk = 0; kk < KT; ++kk)
#pragma GCC unroll 9
    for (int t = 0; t < kTaps; ++t) out[kk * kTaps + t] += _mm512_reduce_add_ps(acc[kk][t]);
}

using TapSums = void (*)(const float*, int64_t, const float*, const int64_t*, int64_t, double*);
constexpr TapSums kTapSums[kTile + 1] = {nullptr, tap_sums<1>, tap_sums<2>, tap_sums<3>};

}  // namespace
#endif

bool conv2d_grad_weight_direct_supported(const ConvShape& s, int64_t K) {
#ifdef DISMAX_DIRECT_GW
  return gemm_isa() == GemmIsa::avx512 && s.R == 3 && s.S == 3 && s.stride_h == 1 && s.stride_w == 1 &&
         s.pad_h <= 2 && s.pad_w <= 2 && s.P >= 1 && s.Q >= 1 && s.P >= 14 && s.Q >= 14 && s.C <= 16 && K <= 16 &&
         s.N * (s.H + 2 * s.pad_h) * (s.W + 2 * s.pad_w) < (int64_t{1} << 40);
#else
  (void)s;
  (void)K;
  return false;
#endif
}

void conv2d_grad_weight_direct(const ConvShape& s, int64_t K, const float* gy, const float* x, float* gw) {
#ifdef DISMAX_DIRECT_GW
  const int64_t C = s.C, H = s.H, W = s.W, P = s.P, Q = s.Q, N = s.N;
  const int64_t ph = s.pad_h, pw = s.pad_w, Hp = H + 2 * ph, Wp = W + 2 * pw, plane = Hp * Wp;
  // Positions run over every padded plane of the batch, rounded up to whole vectors; x rows carry a tail for
  // the largest shift (2 rows and 2 columns), which reads only where the matching gy is zero.
  const int64_t L = round16(N * plane), ldg = L, ldx = round16(L + 2 * Wp + 2 + 16);
  Tensor g_holder = Tensor::empty({K * ldg}, DType::Float32), x_holder = Tensor::empty({C * ldx}, DType::Float32);
  float* gp = static_cast<float*>(g_holder.raw_data());
  float* xp = static_cast<float*>(x_holder.raw_data());
  // gp[k][n*plane + p*Wp + q] = gy[n][k][p][q] for p < P, q < Q, else 0.
  parallel_for(0, K * N, std::max<int64_t>(1, 16384 / plane), [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t k = it / N, n = it % N;
      float* dst = gp + k * ldg + n * plane;
      const float* src = gy + (n * K + k) * P * Q;
      for (int64_t p = 0; p < P; ++p) {
        std::memcpy(dst + p * Wp, src + p * Q, size_t(Q) * sizeof(float));
        std::fill(dst + p * Wp + Q, dst + (p + 1) * Wp, 0.0f);
      }
      std::fill(dst + P * Wp, dst + plane, 0.0f);
    }
  });
  // xp[c][n*plane + (h + ph)*Wp + w + pw] = x[n][c][h][w], zero in the border.
  parallel_for(0, C * N, std::max<int64_t>(1, 16384 / plane), [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t c = it / N, n = it % N;
      float* dst = xp + c * ldx + n * plane;
      const float* src = x + (n * C + c) * H * W;
      std::fill(dst, dst + ph * Wp, 0.0f);
      for (int64_t h = 0; h < H; ++h) {
        float* row = dst + (h + ph) * Wp;
        std::fill(row, row + pw, 0.0f);
        std::memcpy(row + pw, src + h * W, size_t(W) * sizeof(float));
        std::fill(row + pw + W, row + Wp, 0.0f);
      }
      std::fill(dst + (H + ph) * Wp, dst + plane, 0.0f);
    }
  });
  for (int64_t k = 0; k < K; ++k) std::fill(gp + k * ldg + N * plane, gp + (k + 1) * ldg, 0.0f);
  for (int64_t c = 0; c < C; ++c) std::fill(xp + c * ldx + N * plane, xp + (c + 1) * ldx, 0.0f);

  int64_t off[kTaps];
  for (int t = 0; t < kTaps; ++t) off[t] = (t / 3) * Wp + t % 3;
  const int64_t chunks = (L + kChunk - 1) / kChunk;
  const int64_t tasks = std::min<int64_t>(chunks, 4 * int64_t(num_threads()));
  const int64_t per_task = K * C * kTaps;
  std::vector<double> partial(size_t(tasks * per_task), 0.0);
  parallel_tasks(tasks, num_threads(), [&](int64_t task) {
    double* sums = partial.data() + task * per_task;
    for (int64_t chunk = task * chunks / tasks; chunk < (task + 1) * chunks / tasks; ++chunk) {
      const int64_t l0 = chunk * kChunk, len = std::min(kChunk, L - l0);
      for (int64_t k0 = 0; k0 < K; k0 += kTile) {
        const int kt = int(std::min<int64_t>(kTile, K - k0));
        for (int64_t c = 0; c < C; ++c) {
          const float* xrow = xp + c * ldx + l0;
          double tile[kTile * kTaps] = {};
          kTapSums[kt](gp + k0 * ldg + l0, ldg, xrow, off, len, tile);
          for (int kk = 0; kk < kt; ++kk)
            for (int t = 0; t < kTaps; ++t) sums[((k0 + kk) * C + c) * kTaps + t] += tile[kk * kTaps + t];
        }
      }
    }
  });
  // The taps' shifts are (r, s) in the padded plane: x[h][w] sits at (h + ph, w + pw), and output (p, q) with
  // tap (r, s) reads x[p + r - ph][q + s - pw], which is padded position (p + r, q + s): offset r*Wp + s.
  parallel_for(0, per_task, 256, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double v = 0;
      for (int64_t task = 0; task < tasks; ++task) v += partial[size_t(task * per_task + i)];
      gw[i] = static_cast<float>(v);
    }
  });
#else
  (void)s;
  (void)K;
  (void)gy;
  (void)x;
  (void)gw;
  DISMAX_CHECK(false, "conv2d_grad_weight_direct: not compiled for this CPU");
#endif
}

}  // namespace dismax::cpu
