// Batch norm over (N, C, spatial) with per-channel statistics. A channel is N runs of HW contiguous values,
// C * HW apart. Every kernel runs on a (channel x chunk) grid: a block handles one chunk of one channel, so
// small channel counts still fill the GPU. Reductions accumulate in double like the CPU; each block writes
// its partial sums and one warp per channel adds them in a fixed order, so results are deterministic
// without float atomics.
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int64_t kVectorsPerThread = 2;  // work per thread and chunk, in 16-byte vectors
constexpr int64_t kMaxChunks = 1024;

template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

struct Layout {
  int64_t N, C, HW;
  explicit Layout(const Tensor& x)
      : N(x.size(0)), C(x.size(1)), HW(x.numel() / std::max<int64_t>(1, x.size(0) * x.size(1))) {}
  int64_t count() const { return N * HW; }
};

// One channel seen as `count` vectors of V elements (V divides HW): vector m is image m / hw, position m % hw.
struct ChannelSpan {
  int64_t hw;            // vectors per image and channel
  int64_t image_stride;  // C * hw
  int64_t count;         // N * hw
  int64_t chunk;         // vectors per block
};

struct Launch {
  ChannelSpan span;
  dim3 grid;  // (C, chunks)
  int threads;
  int64_t chunks;
};

Launch plan(const Layout& L, int V) {
  DISMAX_CHECK(L.C <= INT32_MAX, "batch_norm: too many channels (", L.C, ") for the cuda kernels");
  const int64_t hw = L.HW / V, count = L.N * hw;
  const int threads = static_cast<int>(std::clamp<int64_t>((count + kWarp - 1) / kWarp * kWarp, kWarp, kThreads));
  const int64_t per_block = threads * kVectorsPerThread;
  const int64_t chunks = std::clamp<int64_t>((count + per_block - 1) / per_block, 1, kMaxChunks);
  const int64_t chunk = (count + chunks - 1) / chunks;
  return {{hw, L.C * hw, count, chunk}, dim3(static_cast<unsigned>(L.C), static_cast<unsigned>(chunks)), threads,
          chunks};
}

// Calls f(std::integral_constant<int, V>) with V = 16 bytes of T when every tensor allows vector access, else 1.
template <class T, class F>
void with_vector_width(int64_t HW, std::initializer_list<const Tensor*> tensors, F&& f) {
  constexpr int kWide = static_cast<int>(16 / sizeof(T));
  bool wide = HW % kWide == 0;
  for (const Tensor* t : tensors)
    wide = wide && (!t->defined() || reinterpret_cast<uintptr_t>(t->raw_data()) % 16 == 0);
  if (wide) f(std::integral_constant<int, kWide>{});
  else f(std::integral_constant<int, 1>{});
}

// Products that feed a sum are rounded on their own: nvcc would otherwise fuse them into an FMA, and the
// elementwise results would differ from the CPU's in the last bit.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

template <class T> T* ptr_or_null(const Tensor& t) { return t.defined() ? ptr<T>(t) : nullptr; }

// Calls f(vector offset) for each vector of this block's chunk of channel blockIdx.x that this thread owns.
// The (image, position) cursor advances by additions only: no division per element.
template <class F>
__device__ void for_chunk(const ChannelSpan& s, F&& f) {
  const int64_t c = blockIdx.x, step = blockDim.x;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * s.chunk;
  const int64_t end = min(begin + s.chunk, s.count);
  const int64_t step_n = step / s.hw, step_pos = step - step_n * s.hw;
  int64_t m = begin + threadIdx.x;
  int64_t n = m / s.hw, pos = m - n * s.hw;
  for (; m < end; m += step) {
    f(n * s.image_stride + c * s.hw + pos);
    n += step_n;
    pos += step_pos;
    if (pos >= s.hw) {
      pos -= s.hw;
      ++n;
    }
  }
}

__device__ double warp_sum(double v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sums a and b over the block (blockDim.x a multiple of 32, at most kThreads); thread 0 gets the totals.
__device__ void block_sum2(double& a, double& b) {
  __shared__ double sa[kThreads / kWarp], sb[kThreads / kWarp];
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  a = warp_sum(a);
  b = warp_sum(b);
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = warp_sum(lane < warps ? sa[lane] : 0.0);
    b = warp_sum(lane < warps ? sb[lane] : 0.0);
  }
}

// Partial sums per (chunk, channel) into partial (2, chunks, C): of d and d^2 with d = x - x[first value of
// the channel] (statistics; the shift keeps the one-pass variance exact when the mean is large against the
// spread), or of gy and gy * (x - mean) (kGrad).
template <class T, int V, bool kGrad>
__global__ void moments_kernel(const T* x, const T* gy, const T* mean, ChannelSpan s, double* partial) {
  const int64_t c = blockIdx.x, C = gridDim.x;
  const double center = kGrad ? static_cast<double>(mean[c]) : static_cast<double>(x[c * s.hw * V]);
  const auto* xv = reinterpret_cast<const Vec<T, V>*>(x);
  const auto* gv = reinterpret_cast<const Vec<T, V>*>(gy);
  double a = 0, b = 0;
  for_chunk(s, [&](int64_t off) {
    const Vec<T, V> xs = xv[off];
    if constexpr (kGrad) {
      const Vec<T, V> gs = gv[off];
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const double g = gs.v[k];
        a += g;
        b += g * (static_cast<double>(xs.v[k]) - center);
      }
    } else {
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const double d = static_cast<double>(xs.v[k]) - center;
        a += d;
        b += d * d;
      }
    }
  });
  block_sum2(a, b);
  if (threadIdx.x == 0) {
    const int64_t slot = static_cast<int64_t>(blockIdx.y) * C + c;
    partial[slot] = a;
    partial[static_cast<int64_t>(gridDim.y) * C + slot] = b;
  }
}

// Adds channel c's partial sums in a fixed order; lane 0 gets the totals.
__device__ void channel_totals(const double* partial, int64_t chunks, int64_t C, int64_t c, double& a, double& b) {
  a = 0;
  b = 0;
  for (int64_t k = threadIdx.x % kWarp; k < chunks; k += kWarp) {
    a += partial[k * C + c];
    b += partial[(chunks + k) * C + c];
  }
  a = warp_sum(a);
  b = warp_sum(b);
}

// The finishing kernels give each warp one channel at a time: f(c, a, b) runs on lane 0 with the totals
// (zeros when partial is null).
template <class F>
__device__ void for_each_channel(const double* partial, int64_t chunks, int64_t C, F&& f) {
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / kWarp;
  for (int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp; c < C; c += warps) {
    double a = 0, b = 0;
    if (partial) channel_totals(partial, chunks, C, c, a, b);
    if (threadIdx.x % kWarp == 0) f(c, a, b);
  }
}

unsigned warp_blocks(int64_t C) { return blocks_for(C * kWarp); }

template <class T>
struct TrainStats {
  const T *x, *gamma, *beta;
  T *running_mean, *running_var, *save_mean, *save_invstd;
  T* coef;  // (2, C): scale, shift
  double momentum, eps;
  int64_t C, HW, count, chunks;
};

template <class T>
__global__ void finish_train_stats_kernel(TrainStats<T> p, const double* partial) {
  for_each_channel(partial, p.chunks, p.C, [&](int64_t c, double s, double q) {
    const T shift = p.x[c * p.HW];
    const int64_t M = p.count;
    const double mean_shifted = s / M;
    const double v = q / M - mul_rn(mean_shifted, mean_shifted);
    const double var = 0.0 < v ? v : 0.0;  // std::max(0.0, v), as the CPU (a NaN becomes 0)
    const double mean = shift + mean_shifted;
    const double invstd = 1.0 / sqrt(var + p.eps);
    const double keep = 1.0 - p.momentum;
    p.save_mean[c] = static_cast<T>(mean);
    p.save_invstd[c] = static_cast<T>(invstd);
    if (p.running_mean) {
      const double old = p.running_mean[c];
      p.running_mean[c] = static_cast<T>(mul_rn(keep, old) + mul_rn(p.momentum, mean));
    }
    if (p.running_var) {
      const double old = p.running_var[c];
      p.running_var[c] = static_cast<T>(mul_rn(keep, old) + mul_rn(p.momentum, var) * M / (M - 1));
    }
    const double g = p.gamma ? p.gamma[c] : 1.0, bb = p.beta ? p.beta[c] : 0.0;
    p.coef[c] = static_cast<T>(g * invstd);
    p.coef[p.C + c] = static_cast<T>(bb - mul_rn(mul_rn(mean, g), invstd));
  });
}

template <class T>
__global__ void eval_coefficients_kernel(const T* gamma, const T* beta, const T* running_mean, const T* running_var,
                                         double eps, int64_t C, T* coef) {
  DISMAX_GRID_STRIDE_LOOP(c, C) {
    const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
    const double g = gamma ? gamma[c] : 1.0, bb = beta ? beta[c] : 0.0;
    coef[c] = static_cast<T>(g * invstd);
    coef[C + c] = static_cast<T>(bb - mul_rn(mul_rn(static_cast<double>(running_mean[c]), g), invstd));
  }
}

// y = x * scale[c] + shift[c], coef (2, C).
template <class T, int V>
__global__ void affine_kernel(const T* x, const T* coef, ChannelSpan s, T* y) {
  const int64_t c = blockIdx.x;
  const T scale = coef[c], shift = coef[gridDim.x + c];
  const auto* xv = reinterpret_cast<const Vec<T, V>*>(x);
  auto* yv = reinterpret_cast<Vec<T, V>*>(y);
  for_chunk(s, [&](int64_t off) {
    const Vec<T, V> xs = xv[off];
    Vec<T, V> ys;
#pragma unroll
    for (int k = 0; k < V; ++k) ys.v[k] = mul_rn(xs.v[k], scale) + shift;
    yv[off] = ys;
  });
}

template <class T>
struct GradCoefficients {
  const T *gamma, *invstd;
  T *grad_gamma, *grad_beta;
  T* coef;  // (3, C): k_gy, k_xc, k_const; null when grad_x is not needed
  bool training;
  int64_t C, count, chunks;
};

// training: gx = g*is*(gy - mean(gy) - xhat*mean(gy*xhat)); eval: gx = g*is*gy. Without partial sums (eval,
// no gamma/beta gradient) the sums read as 0, which eval's gx does not use.
template <class T>
__global__ void finish_grad_kernel(GradCoefficients<T> p, const double* partial) {
  for_each_channel(partial, p.chunks, p.C, [&](int64_t c, double sum_gy, double sum_gy_xc) {
    const double is = p.invstd[c], g = p.gamma ? p.gamma[c] : 1.0;
    if (p.grad_gamma) p.grad_gamma[c] = static_cast<T>(sum_gy_xc * is);
    if (p.grad_beta) p.grad_beta[c] = static_cast<T>(sum_gy);
    if (!p.coef) return;
    const double M = static_cast<double>(p.count);
    p.coef[c] = static_cast<T>(g * is);
    p.coef[p.C + c] = p.training ? static_cast<T>(-g * is * is * is * sum_gy_xc / M) : T(0);
    p.coef[2 * p.C + c] = p.training ? static_cast<T>(-g * is * sum_gy / M) : T(0);
  });
}

template <class T, int V>
__global__ void grad_input_kernel(const T* gy, const T* x, const T* mean, const T* coef, ChannelSpan s, T* gx) {
  const int64_t c = blockIdx.x, C = gridDim.x;
  const T mu = mean[c], k_gy = coef[c], k_xc = coef[C + c], k_const = coef[2 * C + c];
  const auto* gv = reinterpret_cast<const Vec<T, V>*>(gy);
  const auto* xv = reinterpret_cast<const Vec<T, V>*>(x);
  auto* ov = reinterpret_cast<Vec<T, V>*>(gx);
  for_chunk(s, [&](int64_t off) {
    const Vec<T, V> gs = gv[off], xs = xv[off];
    Vec<T, V> o;
#pragma unroll
    for (int k = 0; k < V; ++k) o.v[k] = mul_rn(k_gy, gs.v[k]) + mul_rn(k_xc, xs.v[k] - mu) + k_const;
    ov[off] = o;
  });
}

Tensor temporary(int64_t n, DType dtype, const Tensor& like) {
  return Tensor::empty({n}, TensorOptions(dtype).device(like.device()));
}

template <class T>
void forward_train_typed(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd) {
  const Layout L(x);
  const int64_t M = L.count();
  DISMAX_CHECK(M > 0, "batch_norm: no values per channel in ", x.describe());
  DISMAX_CHECK(M > 1, "batch_norm: training needs more than one value per channel, got input ", x.describe());
  with_vector_width<T>(L.HW, {&x, &y}, [&](auto width) {
    constexpr int V = decltype(width)::value;
    const Launch l = plan(L, V);
    Tensor partial = temporary(2 * l.chunks * L.C, DType::Float64, x);
    Tensor coef = temporary(2 * L.C, x.dtype(), x);
    moments_kernel<T, V, false>
        <<<l.grid, l.threads, 0, stream()>>>(ptr<T>(x), nullptr, nullptr, l.span, ptr<double>(partial));
    DISMAX_CUDA_CHECK_LAUNCH("batch_norm moments");
    const TrainStats<T> p{ptr<T>(x), ptr_or_null<T>(gamma), ptr_or_null<T>(beta), ptr_or_null<T>(running_mean),
                          ptr_or_null<T>(running_var), ptr<T>(save_mean), ptr<T>(save_invstd), ptr<T>(coef),
                          momentum, eps, L.C, L.HW, M, l.chunks};
    finish_train_stats_kernel<T><<<warp_blocks(L.C), kThreads, 0, stream()>>>(p, ptr<double>(partial));
    DISMAX_CUDA_CHECK_LAUNCH("batch_norm statistics");
    affine_kernel<T, V><<<l.grid, l.threads, 0, stream()>>>(ptr<T>(x), ptr<T>(coef), l.span, ptr<T>(y));
    DISMAX_CUDA_CHECK_LAUNCH("batch_norm normalize");
  });
}

template <class T>
void forward_eval_typed(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                        const Tensor& running_var, double eps, Tensor& y) {
  const Layout L(x);
  if (x.numel() == 0) return;
  Tensor coef = temporary(2 * L.C, x.dtype(), x);
  eval_coefficients_kernel<T><<<blocks_for(L.C), kThreads, 0, stream()>>>(
      ptr_or_null<T>(gamma), ptr_or_null<T>(beta), ptr<T>(running_mean), ptr<T>(running_var), eps, L.C, ptr<T>(coef));
  DISMAX_CUDA_CHECK_LAUNCH("batch_norm eval coefficients");
  with_vector_width<T>(L.HW, {&x, &y}, [&](auto width) {
    constexpr int V = decltype(width)::value;
    const Launch l = plan(L, V);
    affine_kernel<T, V><<<l.grid, l.threads, 0, stream()>>>(ptr<T>(x), ptr<T>(coef), l.span, ptr<T>(y));
    DISMAX_CUDA_CHECK_LAUNCH("batch_norm normalize");
  });
}

void zero(Tensor& t) {
  if (t.defined() && t.numel() > 0)
    DISMAX_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, static_cast<size_t>(t.numel()) * t.itemsize(), stream()));
}

template <class T>
void backward_typed(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                    bool training, Tensor& gx, Tensor& ggamma, Tensor& gbeta) {
  const Layout L(x);
  if (L.C == 0) return;
  if (L.count() == 0) {  // empty sums, as on the CPU
    zero(ggamma);
    zero(gbeta);
    return;
  }
  const bool need_sums = ggamma.defined() || gbeta.defined() || (training && gx.defined());
  if (!need_sums && !gx.defined()) return;
  with_vector_width<T>(L.HW, {&gy, &x, &gx}, [&](auto width) {
    constexpr int V = decltype(width)::value;
    const Launch l = plan(L, V);
    Tensor partial, coef;
    if (need_sums) {
      partial = temporary(2 * l.chunks * L.C, DType::Float64, x);
      moments_kernel<T, V, true>
          <<<l.grid, l.threads, 0, stream()>>>(ptr<T>(x), ptr<T>(gy), ptr<T>(mean), l.span, ptr<double>(partial));
      DISMAX_CUDA_CHECK_LAUNCH("batch_norm_backward moments");
    }
    if (gx.defined()) coef = temporary(3 * L.C, x.dtype(), x);
    const GradCoefficients<T> p{ptr_or_null<T>(gamma), ptr<T>(invstd), ptr_or_null<T>(ggamma), ptr_or_null<T>(gbeta),
                                ptr_or_null<T>(coef), training, L.C, L.count(), l.chunks};
    finish_grad_kernel<T><<<warp_blocks(L.C), kThreads, 0, stream()>>>(p, ptr_or_null<double>(partial));
    DISMAX_CUDA_CHECK_LAUNCH("batch_norm_backward coefficients");
    if (!gx.defined()) return;
    grad_input_kernel<T, V><<<l.grid, l.threads, 0, stream()>>>(ptr<T>(gy), ptr<T>(x), ptr<T>(mean), ptr<T>(coef),
                                                                l.span, ptr<T>(gx));
    DISMAX_CUDA_CHECK_LAUNCH("batch_norm_backward grad_input");
  });
}

}  // namespace

void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd) {
  DeviceGuard guard(y);
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    forward_train_typed<typename decltype(tag)::type>(x, gamma, beta, running_mean, running_var, momentum, eps, y,
                                                      save_mean, save_invstd);
  });
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& y) {
  DeviceGuard guard(y);
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    forward_eval_typed<typename decltype(tag)::type>(x, gamma, beta, running_mean, running_var, eps, y);
  });
}

void batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& invstd, bool training, Tensor& grad_x, Tensor& grad_gamma, Tensor& grad_beta) {
  DeviceGuard guard(x);  // the outputs are all optional; every tensor is on x's device
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    backward_typed<typename decltype(tag)::type>(grad_y, x, gamma, mean, invstd, training, grad_x, grad_gamma,
                                                 grad_beta);
  });
}

}  // namespace dismax::cuda
