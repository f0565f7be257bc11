// The naive NCHW convolution behind the fake cuDNN's executions, from the definition
//   y[n, k, p, q] = sum over c, r, s of x[n, g * Cg + c, p * stride - pad + r * dil, q * stride - pad + s *
//   dil]
//                                      * w[k, c, r, s]      (g = k / Kg; the filter flipped in CONVOLUTION
//                                      mode)
// and its two adjoints (backward data, backward filter).
#include "fake_cudnn_conv.h"

#include <algorithm>
#include <type_traits>

#include "fake_device.h"

namespace fake_cudnn {
namespace {

float round_half(float x) { return static_cast<float>(static_cast<_Float16>(x)); }

// A dense NCHW copy of a strided 4-D tensor, in the accumulation type.
template <class T, class Acc>
std::vector<Acc> gather(const void* p, const TensorInfo& t, InputRounding rounding) {
  const T* src = static_cast<const T*>(p);
  const int64_t n0 = t.dims[0], n1 = t.dims[1], n2 = t.dims[2], n3 = t.dims[3];
  std::vector<Acc> out(static_cast<size_t>(n0 * n1 * n2 * n3));
  size_t i = 0;
  for (int64_t a = 0; a < n0; ++a)
    for (int64_t b = 0; b < n1; ++b)
      for (int64_t c = 0; c < n2; ++c)
        for (int64_t d = 0; d < n3; ++d) {
          T v = src[a * t.strides[0] + b * t.strides[1] + c * t.strides[2] + d * t.strides[3]];
          if constexpr (std::is_same_v<T, float>) {
            if (rounding == InputRounding::TF32) v = fake::round_to_tf32(v);
            if (rounding == InputRounding::Half) v = round_half(v);
          }
          out[i++] = v;
        }
  return out;
}

template <class T, class Acc>
void scatter(void* p, const TensorInfo& t, const std::vector<Acc>& acc, double alpha, double beta) {
  T* dst = static_cast<T*>(p);
  const int64_t n0 = t.dims[0], n1 = t.dims[1], n2 = t.dims[2], n3 = t.dims[3];
  size_t i = 0;
  for (int64_t a = 0; a < n0; ++a)
    for (int64_t b = 0; b < n1; ++b)
      for (int64_t c = 0; c < n2; ++c)
        for (int64_t d = 0; d < n3; ++d) {
          T& o = dst[a * t.strides[0] + b * t.strides[1] + c * t.strides[2] + d * t.strides[3]];
          const double v = alpha * acc[i++];
          o = static_cast<T>(beta == 0.0 ? v : v + beta * static_cast<double>(o));
        }
}

// The output positions q in [lo, hi) of Q whose input position q * stride - pad + off lies in [0, in).
void valid_range(int64_t Q, int64_t stride, int64_t pad, int64_t off, int64_t in, int64_t* lo, int64_t* hi) {
  const int64_t a = pad - off, b = in + pad - off;  // q * stride >= a and q * stride < b
  *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  *hi = b <= 0 ? 0 : std::min(Q, (b + stride - 1) / stride);
  if (*hi < *lo) *hi = *lo;
}

template <class T, class Acc>
void run_conv(const OpInfo& op, void* px, void* pw, void* py, InputRounding rounding) {
  const int64_t N = op.x.dims[0], C = op.x.dims[1], H = op.x.dims[2], W = op.x.dims[3];
  const int64_t K = op.w.dims[0], Cg = op.w.dims[1], R = op.w.dims[2], S = op.w.dims[3];
  const int64_t P = op.y.dims[2], Q = op.y.dims[3];
  const int64_t G = C / Cg, Kg = K / G;
  const int64_t sh = op.conv.stride[0], sw = op.conv.stride[1], ph = op.conv.pre[0], pw_ = op.conv.pre[1];
  const int64_t dh = op.conv.dil[0], dw = op.conv.dil[1];
  const bool flip = op.conv.mode == CUDNN_CONVOLUTION;
  auto widx = [&](int64_t k, int64_t c, int64_t r, int64_t s) {
    if (flip) r = R - 1 - r, s = S - 1 - s;
    return ((k * Cg + c) * R + r) * S + s;
  };
  if (op.kind == OpKind::Fwd) {
    const std::vector<Acc> x = gather<T, Acc>(px, op.x, rounding), w = gather<T, Acc>(pw, op.w, rounding);
    std::vector<Acc> y(static_cast<size_t>(N * K * P * Q), 0.0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        Acc* acc = &y[static_cast<size_t>((n * K + k) * P * Q)];
        const int64_t g = k / Kg;
        for (int64_t c = 0; c < Cg; ++c) {
          const Acc* xc = &x[static_cast<size_t>((n * C + g * Cg + c) * H * W)];
          for (int64_t r = 0; r < R; ++r) {
            int64_t plo, phi;
            valid_range(P, sh, ph, r * dh, H, &plo, &phi);
            for (int64_t s = 0; s < S; ++s) {
              const Acc wv = w[static_cast<size_t>(widx(k, c, r, s))];
              int64_t qlo, qhi;
              valid_range(Q, sw, pw_, s * dw, W, &qlo, &qhi);
              for (int64_t p = plo; p < phi; ++p) {
                const Acc* xr = xc + (p * sh - ph + r * dh) * W - pw_ + s * dw;
                Acc* ar = acc + p * Q;
                if (sw == 1)
                  for (int64_t q = qlo; q < qhi; ++q) ar[q] += wv * xr[q];
                else
                  for (int64_t q = qlo; q < qhi; ++q) ar[q] += wv * xr[q * sw];
              }
            }
          }
        }
      }
    scatter<T, Acc>(py, op.y, y, op.alpha, op.beta);
  } else if (op.kind == OpKind::BwdData) {
    const std::vector<Acc> dy = gather<T, Acc>(py, op.y, rounding), w = gather<T, Acc>(pw, op.w, rounding);
    std::vector<Acc> dx(static_cast<size_t>(N * C * H * W), 0.0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t cc = 0; cc < C; ++cc) {
        Acc* acc = &dx[static_cast<size_t>((n * C + cc) * H * W)];
        const int64_t g = cc / Cg, c = cc % Cg;
        for (int64_t kk = 0; kk < Kg; ++kk) {
          const int64_t k = g * Kg + kk;
          const Acc* dyk = &dy[static_cast<size_t>((n * K + k) * P * Q)];
          for (int64_t r = 0; r < R; ++r) {
            int64_t plo, phi;
            valid_range(P, sh, ph, r * dh, H, &plo, &phi);
            for (int64_t s = 0; s < S; ++s) {
              const Acc wv = w[static_cast<size_t>(widx(k, c, r, s))];
              int64_t qlo, qhi;
              valid_range(Q, sw, pw_, s * dw, W, &qlo, &qhi);
              for (int64_t p = plo; p < phi; ++p) {
                Acc* xr = acc + (p * sh - ph + r * dh) * W - pw_ + s * dw;
                const Acc* gr = dyk + p * Q;
                if (sw == 1)
                  for (int64_t q = qlo; q < qhi; ++q) xr[q] += wv * gr[q];
                else
                  for (int64_t q = qlo; q < qhi; ++q) xr[q * sw] += wv * gr[q];
              }
            }
          }
        }
      }
    scatter<T, Acc>(px, op.x, dx, op.alpha, op.beta);
  } else {
    const std::vector<Acc> dy = gather<T, Acc>(py, op.y, rounding), x = gather<T, Acc>(px, op.x, rounding);
    std::vector<Acc> dwv(static_cast<size_t>(K * Cg * R * S), 0.0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < Cg; ++c) {
        const int64_t g = k / Kg;
        for (int64_t r = 0; r < R; ++r) {
          int64_t plo, phi;
          valid_range(P, sh, ph, r * dh, H, &plo, &phi);
          for (int64_t s = 0; s < S; ++s) {
            int64_t qlo, qhi;
            valid_range(Q, sw, pw_, s * dw, W, &qlo, &qhi);
            Acc sum = 0;
            for (int64_t n = 0; n < N; ++n) {
              const Acc* xc = &x[static_cast<size_t>((n * C + g * Cg + c) * H * W)];
              const Acc* dyk = &dy[static_cast<size_t>((n * K + k) * P * Q)];
              for (int64_t p = plo; p < phi; ++p) {
                const Acc* xr = xc + (p * sh - ph + r * dh) * W - pw_ + s * dw;
                const Acc* gr = dyk + p * Q;
                if (sw == 1)
                  for (int64_t q = qlo; q < qhi; ++q) sum += gr[q] * xr[q];
                else
                  for (int64_t q = qlo; q < qhi; ++q) sum += gr[q] * xr[q * sw];
              }
            }
            dwv[static_cast<size_t>(widx(k, c, r, s))] += sum;
          }
        }
      }
    scatter<T, Acc>(pw, op.w, dwv, op.alpha, op.beta);
  }
}

}  // namespace

void run_convolution(const OpInfo& op, void* x, void* w, void* y, InputRounding rounding,
                     bool accumulate_in_float32) {
  if (op.x.dtype == CUDNN_DATA_DOUBLE)
    run_conv<double, double>(op, x, w, y, InputRounding::None);
  else if (accumulate_in_float32)
    run_conv<float, float>(op, x, w, y, rounding);
  else
    run_conv<float, double>(op, x, w, y, rounding);
}

}  // namespace fake_cudnn
