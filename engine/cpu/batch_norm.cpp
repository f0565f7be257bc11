// Batch norm over (N, C, spatial) with per-channel statistics, parallel over channels.
#include <cmath>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {

struct Layout {
  int64_t N, C, HW;
  explicit Layout(const Tensor& x) : N(x.size(0)), C(x.size(1)), HW(x.numel() / std::max<int64_t>(1, x.size(0) * x.size(1))) {}
  int64_t count() const { return N * HW; }
};

// Sum and sum of squares of (x - shift) over one run, in eight double lanes: vectorisable (a single
// running float sum is neither) and accurate over the 10^4-10^5 values of a channel. The shift (the
// channel's first value) keeps the one-pass variance exact when the mean is large against the spread.
template <class T>
DISMAX_SIMD_CLONES void shifted_moments(const T* x, int64_t n, T shift, double& sum, double& sumsq) {
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
  sum = sumsq = 0;
  for (int j = 0; j < 8; ++j) {
    sum += s[j];
    sumsq += q[j];
  }
}

template <class T>
DISMAX_SIMD_CLONES void scale_shift(const T* x, T* y, int64_t n, T scale, T shift) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale + shift;
}

template <class T>
DISMAX_SIMD_CLONES void grad_moments(const T* gy, const T* x, int64_t n, T mean, double& sum_gy, double& sum_gy_xc) {
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
  sum_gy = sum_gy_xc = 0;
  for (int j = 0; j < 8; ++j) {
    sum_gy += a[j];
    sum_gy_xc += b[j];
  }
}

template <class T>
DISMAX_SIMD_CLONES void grad_input(const T* gy, const T* x, T* gx, int64_t n, T mean, T k_gy, T k_xc, T k_const) {
  for (int64_t i = 0; i < n; ++i) gx[i] = k_gy * gy[i] + k_xc * (x[i] - mean) + k_const;
}

template <class T>
const T* ptr_or_null(const Tensor& t) { return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr; }
template <class T>
T* mut_or_null(Tensor& t) { return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr; }

template <class T>
void forward_train_typed(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd) {
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
      for (int64_t n = 0; n < L.N; ++n) {
        double rs, rq;
        shifted_moments(px + (n * L.C + c) * L.HW, L.HW, shift, rs, rq);
        s += rs;
        q += rq;
      }
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
      for (int64_t n = 0; n < L.N; ++n) {
        const int64_t o = (n * L.C + c) * L.HW;
        scale_shift(px + o, py + o, L.HW, scale, offset);
      }
    }
  });
}

template <class T>
void forward_eval_typed(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                        const Tensor& running_var, double eps, Tensor& y) {
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
      scale_shift(px + it * L.HW, py + it * L.HW, L.HW, static_cast<T>(g * invstd),
                  static_cast<T>(bb - prm[c] * g * invstd));
    }
  });
}

template <class T>
void backward_typed(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                    bool training, Tensor& gx, Tensor& ggamma, Tensor& gbeta) {
  const Layout L(x);
  const T* pgy = static_cast<const T*>(gy.raw_data());
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
      const T mu = pm[c];
      double sum_gy = 0, sum_gy_xc = 0;
      for (int64_t n = 0; n < L.N; ++n) {
        double a, bb;
        const int64_t o = (n * L.C + c) * L.HW;
        grad_moments(pgy + o, px + o, L.HW, mu, a, bb);
        sum_gy += a;
        sum_gy_xc += bb;
      }
      const double is = pi[c], g = pg ? pg[c] : 1.0;
      if (pgg) pgg[c] = static_cast<T>(sum_gy_xc * is);
      if (pgb) pgb[c] = static_cast<T>(sum_gy);
      if (!pgx) continue;
      // training: gx = g*is*(gy - mean(gy) - xhat*mean(gy*xhat)); eval: gx = g*is*gy
      const T k_gy = static_cast<T>(g * is);
      const T k_xc = training ? static_cast<T>(-g * is * is * is * sum_gy_xc / M) : T(0);
      const T k_const = training ? static_cast<T>(-g * is * sum_gy / M) : T(0);
      for (int64_t n = 0; n < L.N; ++n) {
        const int64_t o = (n * L.C + c) * L.HW;
        grad_input(pgy + o, px + o, pgx + o, L.HW, mu, k_gy, k_xc, k_const);
      }
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

}  // namespace dismax::cpu
