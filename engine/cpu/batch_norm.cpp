// Batch norm over (N, C, spatial) with per-channel statistics, parallel over channels.
#include <cmath>
#include <type_traits>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"
#include "engine/cpu/gemm.h"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include "engine/cpu/avx512_util.h"
#define DISMAX_BN_AVX512 1
#endif

namespace dismax::cpu {

namespace {

struct Layout {
  int64_t N, C, HW;
  explicit Layout(const Tensor& x) : N(x.size(0)), C(x.size(1)), HW(x.numel() / std::max<int64_t>(1, x.size(0) * x.size(1))) {}
  int64_t count() const { return N * HW; }
};

// The per-channel loops below see a channel as `runs` runs of n contiguous values, `stride` apart (one
// run per image).

// Sum and sum of squares of (x - shift), accumulated in double: accurate over the 10^4-10^5 values of a
// channel. The shift (the channel's first value) keeps the one-pass variance exact when the mean is
// large against the spread. Eight double lanes keep the portable loop vectorisable.
template <class T>
DISMAX_SIMD_CLONES void shifted_moments_run(const T* x, int64_t n, T shift, double& sum, double& sumsq) {
  double s[8] = {}, q[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const double d = static_cast<double>(x[i + j]) - shift;
      s[j] += d;
      q[j] += d * d;
    }
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    s[0] += d;
    q[0] += d * d;
  }
  for (int j = 0; j < 8; ++j) {
    sum += s[j];
    sumsq += q[j];
  }
}

// Sum of gy and of gy * (x - mean), in double.
template <class T>
DISMAX_SIMD_CLONES void grad_moments_run(const T* gy, const T* x, int64_t n, T mean, double& sum_gy,
                                         double& sum_gy_xc) {
  double a[8] = {}, b[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      a[j] += gy[i + j];
      b[j] += static_cast<double>(gy[i + j]) * (static_cast<double>(x[i + j]) - mean);
    }
  for (; i < n; ++i) {
    a[0] += gy[i];
    b[0] += static_cast<double>(gy[i]) * (static_cast<double>(x[i]) - mean);
  }
  for (int j = 0; j < 8; ++j) {
    sum_gy += a[j];
    sum_gy_xc += b[j];
  }
}

#ifdef DISMAX_BN_AVX512
// AVX-512 forms of the two reductions (GCC's vectorisation of the portable ones shuffles more than it
// adds): 16 floats per step, widened to two vectors of doubles.
DISMAX_AVX512 void shifted_moments_avx512(const float* x, int64_t runs, int64_t n, int64_t stride,
                                          double shift, double& sum, double& sumsq) {
  const __m512d vs = _mm512_set1_pd(shift);
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, q0 = s0, q1 = s0;
  for (int64_t r = 0; r < runs; ++r) {
    const float* p = x + r * stride;
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = detail::lane_mask(n - i);
      const __m512 v = _mm512_maskz_loadu_ps(m, p + i);
      const __m512d lo = _mm512_maskz_sub_pd(__mmask8(m), _mm512_cvtps_pd(_mm512_castps512_ps256(v)), vs);
      const __m512d hi =
          _mm512_maskz_sub_pd(__mmask8(m >> 8), _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), vs);
      s0 = _mm512_add_pd(s0, lo);
      s1 = _mm512_add_pd(s1, hi);
      q0 = _mm512_fmadd_pd(lo, lo, q0);
      q1 = _mm512_fmadd_pd(hi, hi, q1);
    }
  }
  sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  sumsq = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
}

DISMAX_AVX512 void grad_moments_avx512(const float* gy, const float* x, int64_t runs, int64_t n,
                                       int64_t stride, double mean, double& sum_gy, double& sum_gy_xc) {
  const __m512d vm = _mm512_set1_pd(mean);
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  for (int64_t r = 0; r < runs; ++r) {
    const float* pg = gy + r * stride;
    const float* px = x + r * stride;
    for (int64_t i = 0; i < n; i += 16) {
      // Lanes past n load 0 for gy, so they add nothing.
      const __mmask16 m = detail::lane_mask(n - i);
      const __m512 g = _mm512_maskz_loadu_ps(m, pg + i), v = _mm512_maskz_loadu_ps(m, px + i);
      const __m512d glo = _mm512_cvtps_pd(_mm512_castps512_ps256(g));
      const __m512d ghi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(g, 1));
      const __m512d xlo = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), vm);
      const __m512d xhi = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), vm);
      a0 = _mm512_add_pd(a0, glo);
      a1 = _mm512_add_pd(a1, ghi);
      b0 = _mm512_fmadd_pd(glo, xlo, b0);
      b1 = _mm512_fmadd_pd(ghi, xhi, b1);
    }
  }
  sum_gy = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
  sum_gy_xc = _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
}

bool use_avx512() {
  return gemm_isa() == GemmIsa::avx512;  // the CPU has it and DISMAX_ISA does not ask for a narrower path
}
#endif

template <class T>
void shifted_moments(const T* x, int64_t runs, int64_t n, int64_t stride, T shift, double& sum,
                     double& sumsq) {
#ifdef DISMAX_BN_AVX512
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx512()) return shifted_moments_avx512(x, runs, n, stride, shift, sum, sumsq);
  }
#endif
  sum = sumsq = 0;
  for (int64_t r = 0; r < runs; ++r) shifted_moments_run(x + r * stride, n, shift, sum, sumsq);
}

template <class T>
void grad_moments(const T* gy, const T* x, int64_t runs, int64_t n, int64_t stride, T mean, double& sum_gy,
                  double& sum_gy_xc) {
#ifdef DISMAX_BN_AVX512
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx512()) return grad_moments_avx512(gy, x, runs, n, stride, mean, sum_gy, sum_gy_xc);
  }
#endif
  sum_gy = sum_gy_xc = 0;
  for (int64_t r = 0; r < runs; ++r)
    grad_moments_run(gy + r * stride, x + r * stride, n, mean, sum_gy, sum_gy_xc);
}

template <class T>
DISMAX_SIMD_CLONES void scale_shift(const T* x, T* y, int64_t runs, int64_t n, int64_t stride, T scale,
                                    T shift) {
  for (int64_t r = 0; r < runs; ++r) {
    const T* xr = x + r * stride;
    T* yr = y + r * stride;
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale + shift;
  }
}

template <class T>
DISMAX_SIMD_CLONES void grad_input(const T* gy, const T* x, T* gx, int64_t runs, int64_t n, int64_t stride,
                                   T mean, T k_gy, T k_xc, T k_const) {
  for (int64_t r = 0; r < runs; ++r) {
    const T* g = gy + r * stride;
    const T* xr = x + r * stride;
    T* o = gx + r * stride;
    for (int64_t i = 0; i < n; ++i) o[i] = k_gy * g[i] + k_xc * (xr[i] - mean) + k_const;
  }
}

// y = act(x * scale + shift + r) over a channel's runs; r (the residual) may be null. relu keeps NaN, as relu().
template <class T>
DISMAX_SIMD_CLONES void scale_shift_act(const T* x, const T* r, T* y, int64_t runs, int64_t n, int64_t stride,
                                        T scale, T shift, bool relu) {
  for (int64_t run = 0; run < runs; ++run) {
    const T* xr = x + run * stride;
    T* yr = y + run * stride;
    if (r != nullptr) {
      const T* rr = r + run * stride;
      if (relu) {
        for (int64_t i = 0; i < n; ++i) {
          const T v = xr[i] * scale + shift + rr[i];
          yr[i] = v < T(0) ? T(0) : v;
        }
      } else {
        for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale + shift + rr[i];
      }
    } else if (relu) {
      for (int64_t i = 0; i < n; ++i) {
        const T v = xr[i] * scale + shift;
        yr[i] = v < T(0) ? T(0) : v;
      }
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale + shift;
    }
  }
}

// The masked gradient gz = gy where y > 0, else 0 (relu), or gy itself, of one channel's runs into gz.
template <class T>
DISMAX_SIMD_CLONES void relu_mask(const T* gy, const T* y, T* gz, int64_t runs, int64_t n, int64_t stride) {
  for (int64_t run = 0; run < runs; ++run) {
    const T* g = gy + run * stride;
    const T* yr = y + run * stride;
    T* o = gz + run * stride;
    for (int64_t i = 0; i < n; ++i) o[i] = yr[i] > T(0) ? g[i] : T(0);
  }
}

template <class T>
const T* ptr_or_null(const Tensor& t) { return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr; }
template <class T>
T* mut_or_null(Tensor& t) { return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr; }

// act == nullptr: plain batch norm; otherwise y = act(bn(x) + act->residual).
template <class T>
struct Activation {
  const T* residual;  // may be null
  bool relu;
};

template <class T>
void forward_train_typed(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd, const Activation<T>* act = nullptr) {
  const Layout L(x);
  const T* px = static_cast<const T*>(x.raw_data());
  T* py = static_cast<T*>(y.raw_data());
  const T* pg = ptr_or_null<T>(gamma);
  const T* pb = ptr_or_null<T>(beta);
  T* prm = mut_or_null<T>(running_mean);
  T* prv = mut_or_null<T>(running_var);
  T* pm = static_cast<T*>(save_mean.raw_data());
  T* pi = static_cast<T*>(save_invstd.raw_data());
  const int64_t M = L.count();
  DISMAX_CHECK(M > 0, "batch_norm: no values per channel in ", x.describe());
  DISMAX_CHECK(M > 1, "batch_norm: training needs more than one value per channel, got input ", x.describe());
  parallel_for(0, L.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const T shift = px[c * L.HW];
      double s = 0, q = 0;
      shifted_moments(px + c * L.HW, L.N, L.HW, L.C * L.HW, shift, s, q);
      const double mean_shifted = s / M;
      const double var = std::max(0.0, q / M - mean_shifted * mean_shifted);
      const double mean = shift + mean_shifted;
      const double invstd = 1.0 / std::sqrt(var + eps);
      pm[c] = static_cast<T>(mean);
      pi[c] = static_cast<T>(invstd);
      if (prm) prm[c] = static_cast<T>((1.0 - momentum) * prm[c] + momentum * mean);
      if (prv) prv[c] = static_cast<T>((1.0 - momentum) * prv[c] + momentum * var * M / (M - 1));
      const double g = pg ? pg[c] : 1.0, bb = pb ? pb[c] : 0.0;
      const T scale = static_cast<T>(g * invstd), offset = static_cast<T>(bb - mean * g * invstd);
      if (act == nullptr) {
        scale_shift(px + c * L.HW, py + c * L.HW, L.N, L.HW, L.C * L.HW, scale, offset);
      } else {
        scale_shift_act(px + c * L.HW, act->residual ? act->residual + c * L.HW : nullptr, py + c * L.HW, L.N,
                        L.HW, L.C * L.HW, scale, offset, act->relu);
      }
    }
  });
}

template <class T>
void forward_eval_typed(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                        const Tensor& running_var, double eps, Tensor& y, const Activation<T>* act = nullptr) {
  const Layout L(x);
  const T* px = static_cast<const T*>(x.raw_data());
  T* py = static_cast<T*>(y.raw_data());
  const T* pg = ptr_or_null<T>(gamma);
  const T* pb = ptr_or_null<T>(beta);
  const T* prm = static_cast<const T*>(running_mean.raw_data());
  const T* prv = static_cast<const T*>(running_var.raw_data());
  parallel_for(0, L.N * L.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(L.HW, 1)), [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t c = it % L.C;
      const double invstd = 1.0 / std::sqrt(static_cast<double>(prv[c]) + eps);
      const double g = pg ? pg[c] : 1.0, bb = pb ? pb[c] : 0.0;
      const T scale = static_cast<T>(g * invstd), offset = static_cast<T>(bb - prm[c] * g * invstd);
      if (act == nullptr) {
        scale_shift(px + it * L.HW, py + it * L.HW, 1, L.HW, L.HW, scale, offset);
      } else {
        scale_shift_act(px + it * L.HW, act->residual ? act->residual + it * L.HW : nullptr, py + it * L.HW, 1,
                        L.HW, L.HW, scale, offset, act->relu);
      }
    }
  });
}

// With y (relu), the incoming gradient is first masked by y > 0, channel by channel, into gz (the residual's
// gradient when it is wanted, else a scratch tensor); batch norm's backward then reads gz.
template <class T>
void backward_typed(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                    bool training, Tensor& gx, Tensor& ggamma, Tensor& gbeta, const Tensor* y = nullptr,
                    Tensor* gz = nullptr) {
  const Layout L(x);
  const T* pgy = static_cast<const T*>(gy.raw_data());
  const T* py = y != nullptr ? static_cast<const T*>(y->raw_data()) : nullptr;
  T* pgz = gz != nullptr ? static_cast<T*>(gz->raw_data()) : nullptr;
  const T* px = static_cast<const T*>(x.raw_data());
  const T* pg = ptr_or_null<T>(gamma);
  const T* pm = static_cast<const T*>(mean.raw_data());
  const T* pi = static_cast<const T*>(invstd.raw_data());
  T* pgx = mut_or_null<T>(gx);
  T* pgg = mut_or_null<T>(ggamma);
  T* pgb = mut_or_null<T>(gbeta);
  const double M = static_cast<double>(L.count());
  parallel_for(0, L.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const T* g_in = pgy;
      if (py != nullptr) {
        relu_mask(pgy + c * L.HW, py + c * L.HW, pgz + c * L.HW, L.N, L.HW, L.C * L.HW);
        g_in = pgz;
      } else if (pgz != nullptr) {
        for (int64_t n = 0; n < L.N; ++n)
          std::copy(pgy + (n * L.C + c) * L.HW, pgy + (n * L.C + c + 1) * L.HW, pgz + (n * L.C + c) * L.HW);
      }
      const T mu = pm[c];
      double sum_gy = 0, sum_gy_xc = 0;
      grad_moments(g_in + c * L.HW, px + c * L.HW, L.N, L.HW, L.C * L.HW, mu, sum_gy, sum_gy_xc);
      const double is = pi[c], g = pg ? pg[c] : 1.0;
      if (pgg) pgg[c] = static_cast<T>(sum_gy_xc * is);
      if (pgb) pgb[c] = static_cast<T>(sum_gy);
      if (!pgx) continue;
      // training: gx = g*is*(gy - mean(gy) - xhat*mean(gy*xhat)); eval: gx = g*is*gy
      const T k_gy = static_cast<T>(g * is);
      const T k_xc = training ? static_cast<T>(-g * is * is * is * sum_gy_xc / M) : T(0);
      const T k_const = training ? static_cast<T>(-g * is * sum_gy / M) : T(0);
      grad_input(g_in + c * L.HW, px + c * L.HW, pgx + c * L.HW, L.N, L.HW, L.C * L.HW, mu, k_gy, k_xc,
                 k_const);
    }
  });
}

}  // namespace

void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd) {
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    forward_train_typed<typename decltype(tag)::type>(x, gamma, beta, running_mean, running_var, momentum, eps, y,
                                                      save_mean, save_invstd);
  });
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& y) {
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    forward_eval_typed<typename decltype(tag)::type>(x, gamma, beta, running_mean, running_var, eps, y);
  });
}

void batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& invstd, bool training, Tensor& grad_x, Tensor& grad_gamma, Tensor& grad_beta) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    backward_typed<typename decltype(tag)::type>(grad_y, x, gamma, mean, invstd, training, grad_x, grad_gamma,
                                                 grad_beta);
  });
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}

void batch_norm_act_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                                  Tensor& running_var, double momentum, double eps, const Tensor& residual, bool relu,
                                  Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  dispatch_float(x.dtype(), "batch_norm_act", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Activation<T> act{data_or_null<T>(residual), relu};
    forward_train_typed<T>(x, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean, save_invstd, &act);
  });
}

void batch_norm_act_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, const Tensor& residual, bool relu, Tensor& y) {
  dispatch_float(x.dtype(), "batch_norm_act", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Activation<T> act{data_or_null<T>(residual), relu};
    forward_eval_typed<T>(x, gamma, beta, running_mean, running_var, eps, y, &act);
  });
}

void batch_norm_act_backward(const Tensor& grad_y, const Tensor& y, const Tensor& x, const Tensor& gamma,
                             const Tensor& mean, const Tensor& invstd, bool training, bool relu, Tensor& grad_x,
                             Tensor& grad_gamma, Tensor& grad_beta, Tensor& grad_residual) {
  dispatch_float(x.dtype(), "batch_norm_act_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor scratch;
    Tensor* gz = grad_residual.defined() ? &grad_residual : nullptr;
    if (relu && gz == nullptr) {
      scratch = Tensor::empty(x.sizes(), x.dtype());
      gz = &scratch;
    }
    backward_typed<T>(grad_y, x, gamma, mean, invstd, training, grad_x, grad_gamma, grad_beta, relu ? &y : nullptr,
                      gz);
  });
}

}  // namespace dismax::cpu
