// Convolution as GEMM over im2col columns.
//
// Float32 on the AVX-512 GEMM path goes to implicit GEMM (conv2d_implicit.h), which never stores the
// columns. Everything else (float64 for the gradient checks, the AVX2 and portable GEMM paths, and the
// input gradient of convolutions with few input channels) materialises them: the batch is processed in
// chunks of images whose column matrix fits a fixed budget, so a big batch never needs a huge buffer and
// one GEMM still sees many columns (late layers have only 4x4 or 8x8 positions per image).
#include <cstring>

#include "engine/cpu/common.h"
#include "engine/cpu/conv2d_grad_weight_direct.h"
#include "engine/cpu/conv2d_implicit.h"
#include "engine/cpu/cpu_kernels.h"
#include "engine/cpu/gemm_typed.h"

namespace dismax::cpu {

namespace {

constexpr int64_t kColumnBudget = int64_t{1} << 20;  // elements of the column buffer per chunk

struct Geometry {
  int64_t N, C, H, W, K, R, S, P, Q;
  Conv2dArgs a;
  int64_t rows() const { return C * R * S; }  // GEMM depth
  int64_t PQ() const { return P * Q; }
  int64_t chunk() const { return std::max<int64_t>(1, std::min<int64_t>(N, kColumnBudget / std::max<int64_t>(rows() * PQ(), 1))); }
};

Geometry geometry(const Tensor& x, const Tensor& w, const Conv2dArgs& a, const Shape& y_shape) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), y_shape[2], y_shape[3], a};
}

// col[(c*R + r)*S + s][j*PQ + p*Q + q] = x[n0 + j][c][p*sh - ph + r][q*sw - pw + s] (0 outside the image)
template <class T>
void im2col(const Geometry& g, const T* x, int64_t n0, int64_t nb, T* col) {
  const int64_t ld = nb * g.PQ();
  parallel_for(0, g.rows() * nb, 16, [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t row = it / nb, j = it % nb;
      const int64_t c = row / (g.R * g.S), r = (row / g.S) % g.R, s = row % g.S;
      const T* plane = x + ((n0 + j) * g.C + c) * g.H * g.W;
      T* dst = col + row * ld + j * g.PQ();
      const int64_t q_lo = std::clamp<int64_t>((g.a.pad_w - s + g.a.stride_w - 1) / g.a.stride_w, 0, g.Q);
      const int64_t q_hi = std::clamp<int64_t>((g.W + g.a.pad_w - s + g.a.stride_w - 1) / g.a.stride_w, q_lo, g.Q);
      for (int64_t p = 0; p < g.P; ++p, dst += g.Q) {
        const int64_t ih = p * g.a.stride_h - g.a.pad_h + r;
        if (ih < 0 || ih >= g.H) {
          std::fill(dst, dst + g.Q, T(0));
          continue;
        }
        const T* src = plane + ih * g.W - g.a.pad_w + s;
        std::fill(dst, dst + q_lo, T(0));
        if (g.a.stride_w == 1) {
          std::memcpy(dst + q_lo, src + q_lo, (q_hi - q_lo) * sizeof(T));
        } else {
          for (int64_t q = q_lo; q < q_hi; ++q) dst[q] = src[q * g.a.stride_w];
        }
        std::fill(dst + q_hi, dst + g.Q, T(0));
      }
    }
  });
}

// The adjoint of im2col: gx[n0 + j][c] = sum of the column entries that read each pixel (gx overwritten).
template <class T>
void col2im(const Geometry& g, const T* col, int64_t n0, int64_t nb, T* gx) {
  const int64_t ld = nb * g.PQ();
  parallel_for(0, nb * g.C, 4, [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t j = it / g.C, c = it % g.C;
      T* plane = gx + ((n0 + j) * g.C + c) * g.H * g.W;
      std::fill(plane, plane + g.H * g.W, T(0));
      for (int64_t r = 0; r < g.R; ++r)
        for (int64_t s = 0; s < g.S; ++s) {
          const T* src = col + ((c * g.R + r) * g.S + s) * ld + j * g.PQ();
          const int64_t q_lo = std::clamp<int64_t>((g.a.pad_w - s + g.a.stride_w - 1) / g.a.stride_w, 0, g.Q);
          const int64_t q_hi = std::clamp<int64_t>((g.W + g.a.pad_w - s + g.a.stride_w - 1) / g.a.stride_w, q_lo, g.Q);
          for (int64_t p = 0; p < g.P; ++p, src += g.Q) {
            const int64_t ih = p * g.a.stride_h - g.a.pad_h + r;
            if (ih < 0 || ih >= g.H) continue;
            T* dst = plane + ih * g.W - g.a.pad_w + s;
            if (g.a.stride_w == 1) {
              for (int64_t q = q_lo; q < q_hi; ++q) dst[q] += src[q];
            } else {
              for (int64_t q = q_lo; q < q_hi; ++q) dst[q * g.a.stride_w] += src[q];
            }
          }
        }
    }
  });
}

// y[n0 + j][k][:] = tmp[k][j*PQ : (j+1)*PQ] + bias[k]
template <class T>
void scatter_output(const Geometry& g, const T* tmp, const T* bias, int64_t n0, int64_t nb, T* y) {
  const int64_t PQ = g.PQ(), ld = nb * PQ;
  parallel_for(0, nb * g.K, 16, [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t j = it / g.K, k = it % g.K;
      const T* src = tmp + k * ld + j * PQ;
      T* dst = y + ((n0 + j) * g.K + k) * PQ;
      if (bias == nullptr) {
        std::memcpy(dst, src, PQ * sizeof(T));
      } else {
        const T bk = bias[k];
        for (int64_t i = 0; i < PQ; ++i) dst[i] = src[i] + bk;
      }
    }
  });
}

// tmp[k][j*PQ : (j+1)*PQ] = gy[n0 + j][k][:]
template <class T>
void gather_grad(const Geometry& g, const T* gy, int64_t n0, int64_t nb, T* tmp) {
  const int64_t PQ = g.PQ(), ld = nb * PQ;
  parallel_for(0, nb * g.K, 16, [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t j = it / g.K, k = it % g.K;
      std::memcpy(tmp + k * ld + j * PQ, gy + ((n0 + j) * g.K + k) * PQ, PQ * sizeof(T));
    }
  });
}

ConvShape conv_shape(const Geometry& g) {
  return {g.N, g.C, g.H, g.W, g.R, g.S, g.a.stride_h, g.a.stride_w, g.a.pad_h, g.a.pad_w, g.P, g.Q};
}

template <class T>
T* buffer(Tensor& holder, int64_t n, DType dtype) {
  if (!holder.defined() || holder.numel() < n) holder = Tensor::empty({n}, dtype);
  return static_cast<T*>(holder.raw_data());
}

// grad_bias[k] = sum of grad_y[:, k] (in double across images).
template <class T>
void bias_gradient(const Geometry& g, const T* gy, T* gb) {
  const int64_t PQ = g.PQ();
  parallel_for(0, g.K, 4, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      double total = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* row = gy + (n * g.K + k) * PQ;
        T s = 0;
        for (int64_t i = 0; i < PQ; ++i) s += row[i];
        total += s;
      }
      gb[k] = static_cast<T>(total);
    }
  });
}

template <class T>
void forward_typed(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args, Tensor& y) {
  const Geometry g = geometry(x, w, args, y.sizes());
  const T* px = static_cast<const T*>(x.raw_data());
  const T* pw = static_cast<const T*>(w.raw_data());
  const T* pb = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
  T* py = static_cast<T*>(y.raw_data());
  const int64_t chunk = g.chunk();
  Tensor col_holder, tmp_holder;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0), ld = nb * g.PQ();
    T* col = buffer<T>(col_holder, g.rows() * ld, x.dtype());
    T* tmp = buffer<T>(tmp_holder, g.K * ld, x.dtype());
    im2col(g, px, n0, nb, col);
    gemm_strided<T>(g.K, ld, g.rows(), T(1), pw, g.rows(), 1, col, ld, 1, T(0), tmp, ld);
    scatter_output(g, tmp, pb, n0, nb, py);
  }
}

template <class T>
void backward_typed(const Tensor& gy, const Tensor& x, const Tensor& w, const Conv2dArgs& args, Tensor& gx,
                    Tensor& gw, Tensor& gbias) {
  const Geometry g = geometry(x, w, args, gy.sizes());
  const T* pgy = static_cast<const T*>(gy.raw_data());
  const T* px = static_cast<const T*>(x.raw_data());
  const T* pw = static_cast<const T*>(w.raw_data());
  const int64_t chunk = g.chunk();
  Tensor col_holder, tmp_holder;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0), ld = nb * g.PQ();
    T* col = buffer<T>(col_holder, g.rows() * ld, x.dtype());
    T* tmp = buffer<T>(tmp_holder, g.K * ld, x.dtype());
    gather_grad(g, pgy, n0, nb, tmp);
    if (gw.defined()) {
      im2col(g, px, n0, nb, col);
      gemm_strided<T>(g.K, g.rows(), ld, T(1), tmp, ld, 1, col, 1, ld, n0 == 0 ? T(0) : T(1),
                      static_cast<T*>(gw.raw_data()), g.rows());
    }
    if (gx.defined()) {
      gemm_strided<T>(g.rows(), ld, g.K, T(1), pw, 1, g.rows(), tmp, ld, 1, T(0), col, ld);
      col2im(g, col, n0, nb, static_cast<T*>(gx.raw_data()));
    }
  }
  if (gw.defined() && g.N == 0) fill(gw, 0.0);
  if (gbias.defined()) bias_gradient<T>(g, pgy, static_cast<T*>(gbias.raw_data()));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args, Tensor& y) {
  if (x.dtype() == DType::Float32) {
    const ConvShape shape = conv_shape(geometry(x, w, args, y.sizes()));
    if (conv2d_implicit_supported(shape, w.size(0))) {
      conv2d_implicit_forward(shape, w.size(0), static_cast<const float*>(x.raw_data()),
                              static_cast<const float*>(w.raw_data()),
                              bias.defined() ? static_cast<const float*>(bias.raw_data()) : nullptr,
                              static_cast<float*>(y.raw_data()));
      return;
    }
  }
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    forward_typed<typename decltype(tag)::type>(x, w, bias, args, y);
  });
}

void conv2d_backward(const Tensor& grad_y, const Tensor& x, const Tensor& w, const Conv2dArgs& args, Tensor& grad_x,
                     Tensor& grad_w, Tensor& grad_bias) {
  if (x.dtype() == DType::Float32) {
    const Geometry g = geometry(x, w, args, grad_y.sizes());
    const ConvShape shape = conv_shape(g);
    if (conv2d_implicit_supported(shape, g.K)) {
      const auto* pgy = static_cast<const float*>(grad_y.raw_data());
      if (grad_w.defined()) {
        const auto* px = static_cast<const float*>(x.raw_data());
        auto* pgw = static_cast<float*>(grad_w.raw_data());
        if (conv2d_grad_weight_direct_supported(shape, g.K)) {
          conv2d_grad_weight_direct(shape, g.K, pgy, px, pgw);
        } else {
          conv2d_implicit_grad_weight(shape, g.K, pgy, px, pgw);
        }
      }
      if (grad_x.defined()) {
        if (conv2d_implicit_grad_input_preferred(shape)) {
          conv2d_implicit_grad_input(shape, g.K, pgy, static_cast<const float*>(w.raw_data()),
                                     static_cast<float*>(grad_x.raw_data()));
        } else {
          Tensor none_w, none_b;
          backward_typed<float>(grad_y, x, w, args, grad_x, none_w, none_b);
        }
      }
      if (grad_bias.defined()) bias_gradient<float>(g, pgy, static_cast<float*>(grad_bias.raw_data()));
      return;
    }
  }
  dispatch_float(x.dtype(), "conv2d_backward", [&](auto tag) {
    backward_typed<typename decltype(tag)::type>(grad_y, x, w, args, grad_x, grad_w, grad_bias);
  });
}

}  // namespace dismax::cpu
