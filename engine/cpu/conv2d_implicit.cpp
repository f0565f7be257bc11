// Implicit GEMM convolution (see conv2d_implicit.h).
#include "engine/cpu/conv2d_implicit.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "engine/cpu/common.h"
#include "engine/cpu/gemm.h"

namespace dismax::cpu {

namespace {

// Below this many input channels the input gradient's GEMMs (C rows) are too short for the 14-row
// micro-kernel. Measured with bench-conv at batch 128 on 28x28 (2 threads, AMD EPYC Zen 4), the implicit
// path against the explicit columns (C*R*S rows, then col2im): C = 16 3.6 vs 7.7 ms, C = 8 1.2 vs 3.2 ms,
// C = 4 0.5 vs 1.4 ms.
constexpr int64_t kMinChannelsForGradInput = 4;

// (N, K, P, Q) seen as the column matrix of a 1x1 convolution: rows k, columns (n, p, q).
ConvShape planes_shape(int64_t N, int64_t K, int64_t P, int64_t Q) {
  return {N, K, P, Q, 1, 1, 1, 1, 0, 0, P, Q};
}

void add_bias(const float* bias, int64_t N, int64_t K, int64_t PQ, float* y) {
  parallel_for(0, N * K, std::max<int64_t>(1, 16384 / std::max<int64_t>(PQ, 1)), [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const float bk = bias[it % K];
      float* row = y + it * PQ;
      for (int64_t i = 0; i < PQ; ++i) row[i] += bk;
    }
  });
}

// Stride 1: grad_x[n][c][h][w] = sum over k, r, s of w[k][c][r][s] * grad_y[n][k][h + ph - r][w + pw - s],
// the convolution of grad_y (padded by R-1-ph, S-1-pw) with w'[c][k][r][s] = w[k][c][R-1-r][S-1-s].
bool grad_input_is_one_convolution(const ConvShape& s) {
  return s.stride_h == 1 && s.stride_w == 1 && s.pad_h <= s.R - 1 && s.pad_w <= s.S - 1;
}

void grad_input_stride1(const ConvShape& s, int64_t K, const float* gy, const float* w, float* gx) {
  const int64_t RS = s.R * s.S, HW = s.H * s.W;
  std::vector<int32_t> taps(static_cast<size_t>(RS));
  for (int64_t t = 0; t < RS; ++t) taps[size_t(t)] = int32_t(RS - 1 - t);
  const KernelTapsSource flipped(w, K, s.C, RS, std::move(taps));
  const ConvShape gy_shape{s.N, K, s.P, s.Q, s.R, s.S, 1, 1, s.R - 1 - s.pad_h, s.S - 1 - s.pad_w, s.H, s.W};
  const Im2colSource cols(gy, gy_shape, Im2colSource::Lanes::positions);
  sgemm(s.C, gy_shape.cols(), K * RS, 1.0f, flipped, cols, 0.0f, GroupedC{gx, HW, HW, s.C * HW});
}

// Strided: the input positions fall into sh x sw classes by their phase ((ih + ph) % sh, (iw + pw) % sw);
// within a class, grad_x is the stride-1 convolution of grad_y with the kernel taps of that phase
// (r = rho, rho + sh, ...), flipped. Each class goes to a compact buffer, then to its places in grad_x.

// One phase of one dimension: kernel taps rho, rho + stride, ... (`taps` of them) reach the input
// positions (first + a) * stride + rho - pad for a < count.
struct Phase {
  int64_t rho, taps, first, count;
  int64_t position(int64_t a, int64_t stride, int64_t pad) const { return (first + a) * stride + rho - pad; }
};

std::vector<Phase> phases(int64_t size, int64_t kernel, int64_t stride, int64_t pad) {
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  std::vector<Phase> out;
  for (int64_t rho = 0; rho < stride; ++rho) {
    const int64_t taps = rho < kernel ? (kernel - rho + stride - 1) / stride : 0;
    const int64_t first = -floor_div(rho - pad, stride);  // ceil((pad - rho) / stride)
    const int64_t last = floor_div(size - 1 + pad - rho, stride);
    out.push_back({rho, taps, first, std::max<int64_t>(0, last - first + 1)});
  }
  return out;
}

// row[iw] = src[phase][(iw + pad) / stride - first of the phase], phase = (iw + pad) % stride.
DISMAX_SIMD_CLONES void scatter_row(float* row, int64_t W, int64_t pad, int64_t stride,
                                    const float* const* src, const std::vector<Phase>& cols) {
  if (stride == 2) {
    // Pairs (iw, iw + 1) with iw + pad even take phase 0 then phase 1: a loop GCC vectorises.
    const float* s0 = src[0];
    const float* s1 = src[1];
    const int64_t f0 = cols[0].first, f1 = cols[1].first;
    int64_t iw = 0;
    if (pad % 2 == 1) {
      row[0] = s1[pad / 2 - f1];
      iw = 1;
    }
    const int64_t pairs = (W - iw) / 2, j0 = (iw + pad) / 2;
    float* out = row + iw;
    for (int64_t j = 0; j < pairs; ++j) {
      out[2 * j] = s0[j0 + j - f0];
      out[2 * j + 1] = s1[j0 + j - f1];
    }
    iw += 2 * pairs;
    if (iw < W) row[iw] = s0[(iw + pad) / 2 - f0];
    return;
  }
  for (int64_t iw = 0; iw < W; ++iw) {
    const int64_t m = iw + pad, phase = m % stride;
    row[iw] = src[phase][m / stride - cols[size_t(phase)].first];
  }
}

void grad_input_strided(const ConvShape& s, int64_t K, const float* gy, const float* w, float* gx) {
  const std::vector<Phase> rows = phases(s.H, s.R, s.stride_h, s.pad_h);
  const std::vector<Phase> cols = phases(s.W, s.S, s.stride_w, s.pad_w);
  Tensor holder = Tensor::empty({s.N * s.C * s.H * s.W}, DType::Float32);  // the classes partition grad_x
  float* next = static_cast<float*>(holder.raw_data());
  struct Class {
    Phase r, c;
    const float* data;  // (N, C, r.count, c.count); null: no tap reaches these positions
  };
  std::vector<Class> classes;
  for (const Phase& r : rows)
    for (const Phase& c : cols) {
      const int64_t PQ = r.count * c.count;
      if (PQ == 0) continue;
      if (r.taps == 0 || c.taps == 0) {
        classes.push_back({r, c, nullptr});
        continue;
      }
      std::vector<int32_t> taps;
      for (int64_t u = r.taps - 1; u >= 0; --u)
        for (int64_t v = c.taps - 1; v >= 0; --v)
          taps.push_back(int32_t((r.rho + u * s.stride_h) * s.S + c.rho + v * s.stride_w));
      const int64_t T = int64_t(taps.size());
      const KernelTapsSource kernel(w, K, s.C, s.R * s.S, std::move(taps));
      const ConvShape gy_shape{
          s.N,     K,      s.P, s.Q, r.taps, c.taps, 1, 1, r.taps - 1 - r.first, c.taps - 1 - c.first,
          r.count, c.count};
      const Im2colSource gy_cols(gy, gy_shape, Im2colSource::Lanes::positions);
      sgemm(s.C, gy_shape.cols(), K * T, 1.0f, kernel, gy_cols, 0.0f, GroupedC{next, PQ, PQ, s.C * PQ});
      classes.push_back({r, c, next});
      next += s.N * s.C * PQ;
    }
  // grad_x row by row: row ih belongs to row phase (ih + ph) % sh, and within it to the column phases.
  const int64_t sh = s.stride_h, sw = s.stride_w;
  std::vector<const Class*> class_of(size_t(sh * sw), nullptr);
  for (const Class& cl : classes) class_of[size_t(cl.r.rho * sw + cl.c.rho)] = &cl;
  parallel_for(0, s.N * s.C, std::max<int64_t>(1, 8192 / (s.H * s.W)), [&](int64_t b, int64_t e) {
    const std::vector<float> zeros(size_t(s.W / sw + 2), 0.0f);
    std::vector<const float*> src(static_cast<size_t>(sw));  // per column phase
    for (int64_t plane = b; plane < e; ++plane) {
      for (int64_t ih = 0; ih < s.H; ++ih) {
        const int64_t rho = (ih + s.pad_h) % sh, a = (ih + s.pad_h) / sh - rows[size_t(rho)].first;
        for (int64_t phase = 0; phase < sw; ++phase) {
          const Class* cl = class_of[size_t(rho * sw + phase)];
          src[size_t(phase)] = cl != nullptr && cl->data != nullptr
                                   ? cl->data + (plane * cl->r.count + a) * cl->c.count
                                   : zeros.data();
        }
        scatter_row(gx + (plane * s.H + ih) * s.W, s.W, s.pad_w, sw, src.data(), cols);
      }
    }
  });
}

}  // namespace

bool conv2d_implicit_supported(const ConvShape& shape, int64_t K) {
  return Im2colSource::supported(shape) &&
         Im2colSource::supported(planes_shape(shape.N, K, shape.P, shape.Q));
}

void conv2d_implicit_forward(const ConvShape& s, int64_t K, const float* x, const float* w, const float* bias,
                             float* y) {
  const int64_t PQ = s.P * s.Q;
  const Im2colSource cols(x, s, Im2colSource::Lanes::positions);
  sgemm(K, s.cols(), s.rows(), 1.0f, MatView{w, s.rows(), 1}, cols, 0.0f, GroupedC{y, PQ, PQ, K * PQ});
  if (bias != nullptr) add_bias(bias, s.N, K, PQ, y);
}

void conv2d_implicit_grad_weight(const ConvShape& s, int64_t K, const float* gy, const float* x, float* gw) {
  const Im2colSource gy_rows(gy, planes_shape(s.N, K, s.P, s.Q), Im2colSource::Lanes::rows);
  const Im2colSource cols(x, s, Im2colSource::Lanes::rows);
  sgemm(K, s.rows(), s.cols(), 1.0f, gy_rows, cols, 0.0f, GroupedC{gw, s.rows(), s.rows(), 0});
}

bool conv2d_implicit_grad_input_preferred(const ConvShape& s) {
  return s.C >= kMinChannelsForGradInput || s.R * s.S == 1;
}

void conv2d_implicit_grad_input(const ConvShape& s, int64_t K, const float* gy, const float* w, float* gx) {
  if (grad_input_is_one_convolution(s)) {
    grad_input_stride1(s, K, gy, w, gx);
  } else {
    grad_input_strided(s, K, gy, w, gx);
  }
}

}  // namespace dismax::cpu
