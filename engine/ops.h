// The differentiable operations. Each is a free function that checks its arguments (errors name the op
// and the shapes), calls the backend kernel of its inputs' device, and records a backward node when an
// input requires grad. Forward and backward of each op sit side by side in engine/ops/<op>.cpp.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/generator.h"
#include "engine/kernels.h"
#include "engine/tensor.h"

namespace dismax {

// ---- elementwise, NumPy broadcasting (ops/elementwise.cpp)
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient to a where a >= b, else to b
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor affine(const Tensor& x, double scale, double shift);  // scale * x + shift
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);  // gradient sign(x), 0 at 0
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor clamp(const Tensor& x, double min, double max);  // gradient passes where min <= x <= max
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);
Tensor relu(const Tensor& x);
Tensor sign(const Tensor& x);  // not differentiable (zero gradient)

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(const Tensor& a, double b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(const Tensor& a, double b);
Tensor operator/(double a, const Tensor& b);

// ---- comparisons (no gradient; float 0/1 results of the inputs' dtype)
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& x, double value);

// ---- reductions (ops/reduce.cpp)
Tensor sum(const Tensor& x);  // all elements -> scalar (shape [])
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Values (differentiable, gradient to the first maximal element) and int64 indices along dim.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
// Sums `x` down to `shape` (the inverse of broadcasting; used by backward passes).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- softmax family (ops/softmax.cpp); max-subtracted, along `dim`
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- linear algebra (ops/matmul.cpp)
Tensor matmul(const Tensor& a, const Tensor& b);  // (M,K) x (K,N) -> (M,N)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);  // x (B,F), weight (C,F), bias (C) optional

// ---- convolution and pooling (ops/conv2d.cpp, ops/pool2d.cpp)
struct Conv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
};
// x (N,C,H,W), weight (K,C,R,S), bias (K) optional -> (N,K,P,Q), groups = dilation = 1
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Conv2dOptions options = {});
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0,
                  bool count_include_pad = true);
Tensor global_avg_pool2d(const Tensor& x);  // (N,C,H,W) -> (N,C)

// ---- normalisation (ops/batch_norm.cpp)
// x (N,C,H,W) or (N,C). In training mode normalises with the batch statistics (biased variance) and, if
// running_mean/running_var are defined, updates them in place: r = (1 - momentum) * r + momentum * stat,
// with the unbiased variance for running_var. In eval mode uses the running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps);
// relu(batch_norm(x) + residual) (the ReLU only where `relu`, the residual only when defined; it has x's
// shape), the same values and gradients as composing the three ops, in one pass over x forward and one
// backward after the statistics: the end of a ResNet block, or BN + ReLU alone.
Tensor batch_norm_add_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor running_mean,
                           Tensor running_var, bool training, double momentum, double eps, const Tensor& residual,
                           bool relu);

// ---- distances and normalisation of rows (ops/distance.cpp)
Tensor norm(const Tensor& x, int64_t dim, bool keepdim = false);  // L2; gradient 0 where the norm is 0
Tensor normalize(const Tensor& x, int64_t dim = 1, double eps = 1e-12);  // x / max(||x||, eps)
Tensor cdist(const Tensor& a, const Tensor& b);  // (B,F), (C,F) -> (B,C), direct differences

// ---- shape and indexing (ops/view.cpp, ops/index.cpp)
Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed; a view when possible
Tensor view(const Tensor& x, const Shape& shape);     // must be viewable, else throws
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: int64 1-D
// Host indices, validated on the host: no read-back from the device (the training loop's gathers).
Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& index);
// x with the slice [start, start + length) along dim rolled by `shift` inside that slice:
// out[start + m] = x[start + (m - shift) mod length]; everything outside the slice is unchanged.
Tensor roll(const Tensor& x, int64_t shift, int64_t dim, int64_t start, int64_t length);
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::Float32);

// ---- random draws (ops/random.cpp)
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);
// A random permutation of 0..n-1 (int64, host), Fisher-Yates driven by `gen`.
Tensor randperm(int64_t n, Generator& gen);

}  // namespace dismax
