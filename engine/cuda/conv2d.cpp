// conv2d on CUDA: cuDNN's graph API runs the three convolutions (forward, backward data, backward filter) as
// one-operation graphs whose plans are chosen once per shape (cudnn_graph.h); the bias and its gradient are
// our kernels (conv_bias.h). Float32 and float64, NCHW.
#include <array>
#include <cstdio>
#include <mutex>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "engine/cuda/common.cuh"
#include "engine/grad_mode.h"
#include "engine/cuda/conv_bias.h"
#include "engine/cuda/conv_im2col.h"
#include "engine/cuda/cuda_kernels.h"
#include "engine/cuda/cudnn_graph.h"
#include "engine/math_mode.h"

namespace dismax::cuda {

namespace {

enum class Pass { Forward, BackwardData, BackwardFilter };

// Each pass's operation descriptor and its attributes, with the tensors named by their shape: x (N, C, H, W),
// w (K, C, R, S), y (N, K, P, Q). Backward data writes the x-shaped tensor, backward filter the w-shaped one.
struct PassInfo {
  const char* name;
  const char* roles[3];  // how the x-, w- and y-shaped tensors are called in messages
  cudnnBackendDescriptorType_t type;
  cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
};

const PassInfo& pass_info(Pass pass) {
  static const PassInfo table[] = {
      {"forward",
       {"x", "w", "y"},
       CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y},
      {"backward data",
       {"grad_x", "w", "grad_y"},
       CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY},
      {"backward filter",
       {"x", "grad_w", "grad_y"},
       CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY},
  };
  return table[static_cast<int>(pass)];
}

constexpr int64_t kUidX = 'x', kUidW = 'w', kUidY = 'y';

using Dims = std::array<int64_t, 4>;

Dims dims_of(const Tensor& t) { return {t.size(0), t.size(1), t.size(2), t.size(3)}; }
Dims packed_strides(const Dims& d) { return {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1}; }

Descriptor tensor_descriptor(int64_t uid, cudnnDataType_t type, const Dims& dims, int64_t alignment) {
  const Dims strides = packed_strides(dims);
  Descriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type);
  t.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
  t.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
  t.set_int64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
  t.set_int64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, alignment);
  t.finalize();
  return t;
}

Descriptor convolution_descriptor(cudnnDataType_t compute, const Conv2dArgs& a) {
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  Descriptor c(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  c.set_data_type(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, compute);
  c.set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  c.set_int64(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 2);
  c.set_int64s(CUDNN_ATTR_CONVOLUTION_DILATIONS, {1, 1});
  c.set_int64s(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, {a.stride_h, a.stride_w});
  c.set_int64s(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, {a.pad_h, a.pad_w});
  c.set_int64s(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, {a.pad_h, a.pad_w});
  c.finalize();
  return c;
}

// The finalized operation of one pass; the descriptors it references go to keep_alive.
Descriptor operation_descriptor(const PassInfo& info, DType dtype, const std::array<Dims, 3>& dims,
                                const std::array<int64_t, 3>& alignments, const Conv2dArgs& args,
                                std::vector<Descriptor>& keep_alive) {
  const cudnnDataType_t type = cudnn_data_type(dtype);
  Descriptor tx = tensor_descriptor(kUidX, type, dims[0], alignments[0]);
  Descriptor tw = tensor_descriptor(kUidW, type, dims[1], alignments[1]);
  Descriptor ty = tensor_descriptor(kUidY, type, dims[2], alignments[2]);
  Descriptor conv = convolution_descriptor(type, args);
  Descriptor op(info.type);
  op.set_descriptor(info.x, tx);
  op.set_descriptor(info.w, tw);
  op.set_descriptor(info.y, ty);
  op.set_descriptor(info.conv, conv);
  if (dtype == DType::Float64) {
    const double one = 1.0, zero = 0.0;
    op.set(info.alpha, CUDNN_TYPE_DOUBLE, 1, &one);
    op.set(info.beta, CUDNN_TYPE_DOUBLE, 1, &zero);
  } else {
    const float one = 1.f, zero = 0.f;
    op.set(info.alpha, CUDNN_TYPE_FLOAT, 1, &one);
    op.set(info.beta, CUDNN_TYPE_FLOAT, 1, &zero);
  }
  op.finalize();
  for (Descriptor* d : {&tx, &tw, &ty, &conv}) keep_alive.push_back(std::move(*d));
  return op;
}

std::string describe(const PassInfo& info, const Tensor& x, const Tensor& w, const Tensor& y,
                     const Conv2dArgs& a, bool tf32) {
  return detail::concat("conv2d ", info.name, ": ", info.roles[0], " ", x.describe(), ", ", info.roles[1],
                        " ", w.describe(), ", ", info.roles[2], " ", y.describe(), ", stride (", a.stride_h,
                        ", ", a.stride_w, "), padding (", a.pad_h, ", ", a.pad_w, ")",
                        x.dtype() == DType::Float32 ? (tf32 ? ", TF32 allowed" : ", TF32 off") : "");
}

// Runs one pass on the x-, w- and y-shaped operands; it overwrites the one it computes (beta = 0). False,
// having run nothing, when no cuDNN engine runs this float64 graph (float32 graphs throw instead).
bool run_cudnn_pass(Pass pass, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dArgs& args) {
  const PassInfo& info = pass_info(pass);
  const DType dtype = x.dtype();
  const Dims xd = dims_of(x), wd = dims_of(w), yd = dims_of(y);
  const int64_t xa = byte_alignment(x.raw_data()), wa = byte_alignment(w.raw_data()),
                ya = byte_alignment(y.raw_data());

  PlanKey key;
  key.operation = static_cast<int>(info.type);
  key.device = x.device().index;
  key.dtype = dtype;
  key.tf32 = dtype == DType::Float32 && allow_tf32();
  key.denied = denied_conv_algorithms();
  key.params.reserve(3 * 9 + 4);
  for (const auto& [dims, alignment] : {std::pair{xd, xa}, std::pair{wd, wa}, std::pair{yd, ya}}) {
    const Dims strides = packed_strides(dims);
    key.params.insert(key.params.end(), dims.begin(), dims.end());
    key.params.insert(key.params.end(), strides.begin(), strides.end());
    key.params.push_back(alignment);
  }
  key.params.insert(key.params.end(), {args.stride_h, args.stride_w, args.pad_h, args.pad_w});

  const OperationBuilder build = [&](std::vector<Descriptor>& keep_alive) {
    return operation_descriptor(info, dtype, {xd, wd, yd}, {xa, wa, ya}, args, keep_alive);
  };
  const VariantPack pack{{kUidX, kUidW, kUidY}, {x.raw_data(), w.raw_data(), y.raw_data()}};
  return execute_cached(key, build, pack, [&] { return describe(info, x, w, y, args, key.tf32); },
                        /*optional=*/dtype == DType::Float64);
}

// ---- the matrix form, for float64 graphs that no cuDNN engine runs: per image, im2col and cublasDgemm.

ConvGeometry geometry(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dArgs& args) {
  return {x.size(1), x.size(2), x.size(3), w.size(2), w.size(3), y.size(2), y.size(3), args};
}

void notice_matrix_form(Pass pass, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dArgs& args) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr,
                 "dismax: cuDNN offers no float64 engine for %s; float64 convolutions run as im2col + "
                 "cublasDgemm instead (correct, slower; this notice is printed once)\n",
                 describe(pass_info(pass), x, w, y, args, false).c_str());
  });
}

void matrix_pass(Pass pass, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dArgs& args) {
  notice_matrix_form(pass, x, w, y, args);
  NoGradGuard no_grad;
  const ConvGeometry g = geometry(x, w, y, args);
  const int64_t N = x.size(0), K = w.size(0), rows = g.C * g.R * g.S, columns = g.P * g.Q;
  Tensor col = Tensor::empty({rows, columns}, TensorOptions(x.dtype()).device(x.device()));
  Tensor w2 = w.view({K, rows});
  for (int64_t n = 0; n < N; ++n) {
    Tensor y_n = y.select(0, n).view({K, columns});
    switch (pass) {
      case Pass::Forward:  // y_n = W col
        im2col(x, n, g, col);
        gemm(1.0, w2, col, 0.0, y_n);
        break;
      case Pass::BackwardData: {  // col = W^T grad_y_n, folded into grad_x_n (x is grad_x here)
        gemm(1.0, w2.t(), y_n, 0.0, col);
        Tensor grad_x = x;
        col2im(col, g, n, grad_x);
        break;
      }
      case Pass::BackwardFilter:  // grad_W += grad_y_n col^T (w is grad_w here)
        im2col(x, n, g, col);
        gemm(1.0, y_n, col.t(), n == 0 ? 0.0 : 1.0, w2);
        break;
    }
  }
}

void run_pass(Pass pass, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dArgs& args) {
  if (!run_cudnn_pass(pass, x, w, y, args)) matrix_pass(pass, x, w, y, args);
}

struct Operand {
  const char* role;
  const Tensor& tensor;
  int64_t rank = 4;
};

std::string listing(std::initializer_list<Operand> operands) {
  std::string out;
  for (const Operand& o : operands)
    out += std::string(out.empty() ? "" : ", ") + o.role + " " + o.tensor.describe();
  return out;
}

// Undefined operands (optional outputs, absent bias) are skipped; the first operand must be defined.
void check_operands(const char* op, std::initializer_list<Operand> operands) {
  const Tensor& first = operands.begin()->tensor;
  DISMAX_CHECK(first.dtype() == DType::Float32 || first.dtype() == DType::Float64, op,
               " on cuda supports float32 and float64 only (", listing(operands), ")");
  for (const Operand& o : operands) {
    if (!o.tensor.defined()) continue;
    DISMAX_CHECK(o.tensor.dtype() == first.dtype() && o.tensor.device() == first.device() &&
                     o.tensor.is_contiguous() && o.tensor.dim() == o.rank,
                 op, " on cuda: expects contiguous operands (4-D, bias 1-D) of one dtype on one device (",
                 listing(operands), ")");
  }
}

void zero(Tensor& t) {
  DISMAX_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.numel() * t.itemsize(), stream()));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args, Tensor& y) {
  DeviceGuard guard(x);
  check_operands("conv2d", {{"x", x}, {"w", w}, {"bias", bias, 1}, {"y", y}});
  if (y.numel() == 0) return;
  if (x.numel() == 0 || w.numel() == 0) {
    zero(y);  // no input channels, or an image made only of padding
  } else {
    run_pass(Pass::Forward, x, w, y, args);
  }
  if (bias.defined()) add_channel_bias(y, bias);
}

void conv2d_backward(const Tensor& grad_y, const Tensor& x, const Tensor& w, const Conv2dArgs& args,
                     Tensor& grad_x, Tensor& grad_w, Tensor& grad_bias) {
  DeviceGuard guard(grad_y);
  check_operands("conv2d_backward", {{"grad_y", grad_y},
                                     {"x", x},
                                     {"w", w},
                                     {"grad_x", grad_x},
                                     {"grad_w", grad_w},
                                     {"grad_bias", grad_bias, 1}});
  const bool nothing_flows = grad_y.numel() == 0;
  if (grad_x.defined() && grad_x.numel() > 0) {
    if (nothing_flows || w.numel() == 0) {
      zero(grad_x);
    } else {
      run_pass(Pass::BackwardData, grad_x, w, grad_y, args);
    }
  }
  if (grad_w.defined() && grad_w.numel() > 0) {
    if (nothing_flows || x.numel() == 0) {
      zero(grad_w);
    } else {
      run_pass(Pass::BackwardFilter, x, grad_w, grad_y, args);
    }
  }
  if (grad_bias.defined()) channel_bias_grad(grad_y, grad_bias);
}

}  // namespace dismax::cuda
