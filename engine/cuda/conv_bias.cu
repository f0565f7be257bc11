// Bias addition and bias gradient of conv2d on CUDA (see conv_bias.h).
#include <algorithm>
#include <climits>
#include <cstdint>

#include "engine/cuda/common.cuh"
#include "engine/cuda/conv_bias.h"

namespace dismax::cuda {

namespace {

constexpr int64_t kTargetBlocks = 1024;  // enough blocks to fill a large GPU when there are few channels

// Index is uint32_t whenever the tensor allows it: the per-element division by P*Q dominates otherwise.
template <class T, class Index>
__global__ void add_bias_kernel(T* y, const T* bias, Index n, Index plane, Index channels) {
  const Index step = static_cast<Index>(blockDim.x) * gridDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    y[i] += bias[(i / plane) % channels];
}

// The block's total, valid in thread 0; blockDim.x is a multiple of 32.
__device__ double block_sum(double v) {
  __shared__ double warp_sums[32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  const int warps = static_cast<int>(blockDim.x / 32);
  v = static_cast<int>(threadIdx.x) < warps ? warp_sums[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Block (k, c) sums channel k of grad_y over chunk c of its N*P*Q (image, position) pairs, which are visited
// in memory order. With one chunk per channel it writes grad_bias[k], otherwise partial[k * chunks + c].
template <class T>
__global__ void bias_grad_kernel(const T* grad_y, int64_t channels, int64_t plane, int64_t per_channel,
                                 int64_t chunk, T* grad_bias, double* partial) {
  const int64_t k = blockIdx.x;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t end = begin + chunk < per_channel ? begin + chunk : per_channel;
  double acc = 0.0;
  int64_t i = begin + threadIdx.x;
  if (i < end) {
    // (n, q) of pair i, stepped by blockDim.x without a division per element
    int64_t n = i / plane, q = i - n * plane;
    const int64_t step_n = blockDim.x / plane, step_q = blockDim.x % plane;
    for (; i < end; i += blockDim.x) {
      acc += static_cast<double>(grad_y[(n * channels + k) * plane + q]);
      n += step_n;
      q += step_q;
      if (q >= plane) {
        q -= plane;
        ++n;
      }
    }
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) {
    if (partial == nullptr) {
      grad_bias[k] = static_cast<T>(acc);
    } else {
      partial[k * gridDim.y + blockIdx.y] = acc;
    }
  }
}

template <class T>
__global__ void bias_grad_finish_kernel(const double* partial, int64_t channels, int64_t chunks,
                                        T* grad_bias) {
  DISMAX_GRID_STRIDE_LOOP(k, channels) {
    double acc = 0.0;
    for (int64_t c = 0; c < chunks; ++c) acc += partial[k * chunks + c];
    grad_bias[k] = static_cast<T>(acc);
  }
}

}  // namespace

void add_channel_bias(Tensor& y, const Tensor& bias) {
  DISMAX_CHECK(
      y.dim() == 4 && bias.dim() == 1 && bias.size(0) == y.size(1) && y.dtype() == bias.dtype() &&
          y.is_contiguous() && bias.is_contiguous() && y.device() == bias.device(),
      "conv2d bias on cuda: expects a contiguous y (N, K, P, Q) and bias (K) of one dtype and device, got y ",
      y.describe(), " and bias ", bias.describe());
  const int64_t n = y.numel();
  if (n == 0) return;
  const int64_t plane = y.size(2) * y.size(3), channels = y.size(1);
  dispatch_float(y.dtype(), "conv2d bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (n <= INT_MAX) {
      add_bias_kernel<T, uint32_t><<<blocks_for(n), kThreads, 0, stream()>>>(
          ptr<T>(y), ptr<T>(bias), static_cast<uint32_t>(n), static_cast<uint32_t>(plane),
          static_cast<uint32_t>(channels));
    } else {
      add_bias_kernel<T, int64_t>
          <<<blocks_for(n), kThreads, 0, stream()>>>(ptr<T>(y), ptr<T>(bias), n, plane, channels);
    }
    DISMAX_CUDA_CHECK_LAUNCH("conv2d bias add");
  });
}

void channel_bias_grad(const Tensor& grad_y, Tensor& grad_bias) {
  DISMAX_CHECK(
      grad_y.dim() == 4 && grad_bias.dim() == 1 && grad_bias.size(0) == grad_y.size(1) &&
          grad_y.dtype() == grad_bias.dtype() && grad_y.is_contiguous() && grad_bias.is_contiguous() &&
          grad_y.device() == grad_bias.device(),
      "conv2d bias gradient on cuda: expects a contiguous grad_y (N, K, P, Q) and grad_bias (K) of one dtype "
      "and device, got grad_y ",
      grad_y.describe(), " and grad_bias ", grad_bias.describe());
  const int64_t channels = grad_y.size(1);
  if (channels == 0) return;
  DISMAX_CHECK(channels <= INT_MAX, "conv2d bias gradient on cuda: ", channels,
               " channels exceed the grid limit");
  const int64_t plane = grad_y.size(2) * grad_y.size(3), per_channel = grad_y.size(0) * plane;
  const int64_t wanted = std::max<int64_t>(1, kTargetBlocks / channels);
  const int64_t useful =
      std::max<int64_t>(1, per_channel / (kThreads * 4));  // at least ~4 elements per thread
  int64_t chunks = std::min<int64_t>({wanted, useful, 65535});
  const int64_t chunk = std::max<int64_t>(1, (per_channel + chunks - 1) / chunks);
  chunks = std::max<int64_t>(1, (per_channel + chunk - 1) / chunk);
  const dim3 grid(static_cast<unsigned>(channels), static_cast<unsigned>(chunks));
  dispatch_float(grad_y.dtype(), "conv2d bias gradient", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (chunks == 1) {
      bias_grad_kernel<T><<<grid, kThreads, 0, stream()>>>(ptr<T>(grad_y), channels, plane, per_channel,
                                                           chunk, ptr<T>(grad_bias), nullptr);
      DISMAX_CUDA_CHECK_LAUNCH("conv2d bias gradient");
      return;
    }
    Tensor partial =
        Tensor::empty({channels * chunks}, TensorOptions(DType::Float64).device(grad_y.device()));
    bias_grad_kernel<T><<<grid, kThreads, 0, stream()>>>(ptr<T>(grad_y), channels, plane, per_channel, chunk,
                                                         ptr<T>(grad_bias), ptr<double>(partial));
    DISMAX_CUDA_CHECK_LAUNCH("conv2d bias gradient (partial sums)");
    bias_grad_finish_kernel<T><<<blocks_for(channels), kThreads, 0, stream()>>>(
        ptr<double>(partial), channels, chunks, ptr<T>(grad_bias));
    DISMAX_CUDA_CHECK_LAUNCH("conv2d bias gradient (final sums)");
  });
}

}  // namespace dismax::cuda
