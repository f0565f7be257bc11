// Implicit im2col: the column matrix of a convolution, read straight from the image by the GEMM's packing
// (a PackSource), so that convolution never writes the column matrix out (AVX-512 GEMM path only).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engine/cpu/gemm.h"

namespace dismax::cpu {

// A 2-D convolution over an NCHW float tensor: input (N, C, H, W), kernel R x S, output (N, ?, P, Q).
struct ConvShape {
  int64_t N, C, H, W;
  int64_t R, S;
  int64_t stride_h, stride_w, pad_h, pad_w;
  int64_t P, Q;
  int64_t rows() const { return C * R * S; }  // rows of the column matrix
  int64_t cols() const { return N * P * Q; }  // columns: output positions (n, p, q)
};

// The column matrix of x: row (c, r, s), column (n, p, q), entry x[n][c][p*sh - ph + r][q*sw - pw + s]
// (0 in the padding). `lanes` says which index the packed slivers run along:
//   positions: X(i, k) = col[k][i], the B operand of y = W * col (forward);
//   rows:      X(i, k) = col[i][k], the B operand of grad_w = grad_y * col^T (i: a row of col) and, for a
//              1x1 shape over grad_y, its A operand.
// For the AVX-512 GEMM path (supported()): `positions` slivers at multiples of 16 columns, and `rows`
// panels at multiples of 16 (kPackDepthAlign), are packed with vector loads; others fall back to scalar.
class Im2colSource final : public PackSource {
 public:
  enum class Lanes { positions, rows };
  static bool supported(const ConvShape& shape);

  Im2colSource(const float* x, const ConvShape& shape, Lanes lanes);
  void pack(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const override;

  static constexpr int kMaxKernel = 8;    // R and S up to this
  static constexpr int kMaxSegments = 4;  // runs of a block read with plain loads; more: gathers

  // What reading 16 consecutive columns (output positions) needs; computed once per shape and cached.
  struct alignas(64) Block {
    int32_t offset[16];           // per lane: x offset of (n, 0, ih0, iw0), the window's top left
    uint16_t valid;               // lanes that are columns of the matrix
    uint16_t row_ok[kMaxKernel];  // per r: lanes whose input row ih0 + r lies inside the image
    uint16_t col_ok[kMaxKernel];  // per s: lanes whose input column iw0 + s lies inside
    int32_t segments;             // runs of lanes adjacent in x (stride_w 1), or 0: gather instead
    uint16_t segment_lanes[kMaxSegments];
    int64_t segment_base[kMaxSegments];  // lane t of a run reads x[segment_base + t + (c, r, s) offset]
  };

 private:
  void pack_scalar(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const;

  const float* x_;
  ConvShape s_;
  Lanes lanes_;
  std::shared_ptr<const std::vector<Block>> blocks_;  // shared by all sources of the same shape
};

// The A operand of an input gradient computed as forward convolutions of grad_y (conv2d_implicit.h): the
// transposed kernel w (K, C, R, S) restricted to some taps, X(c, k*T + t) = w[k][c][taps[t]] for the
// T = taps.size() tap indices r*S + s given, packed straight from w.
class KernelTapsSource final : public PackSource {
 public:
  KernelTapsSource(const float* w, int64_t K, int64_t C, int64_t RS, std::vector<int32_t> taps)
      : w_(w), K_(K), C_(C), RS_(RS), taps_(std::move(taps)) {}
  void pack(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const override;

 private:
  const float* w_;
  int64_t K_, C_, RS_;
  std::vector<int32_t> taps_;
};

}  // namespace dismax::cpu
