// What a finalized cuDNN convolution operation holds, and the naive NCHW convolution that executes it
// (fake_cudnn_conv.cpp, compiled with full optimisation: it is most of the emulator's run time).
#pragma once
#include <cudnn_graph.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fake_cudnn {

inline size_t data_size(cudnnDataType_t t) {
  switch (t) {
    case CUDNN_DATA_FLOAT: return 4;
    case CUDNN_DATA_DOUBLE: return 8;
    case CUDNN_DATA_HALF: return 2;
    case CUDNN_DATA_BFLOAT16: return 2;
    case CUDNN_DATA_INT64: return 8;
    case CUDNN_DATA_INT32: return 4;
    case CUDNN_DATA_INT8: return 1;
    case CUDNN_DATA_UINT8: return 1;
    default: return 0;
  }
}

struct TensorInfo {
  int64_t uid = 0, align = 0;
  cudnnDataType_t dtype = CUDNN_DATA_FLOAT;
  std::vector<int64_t> dims, strides;
  bool is_virtual = false;

  size_t extent_bytes() const {
    int64_t last = 0;
    for (size_t i = 0; i < dims.size(); ++i) last += (dims[i] - 1) * strides[i];
    return static_cast<size_t>(last + 1) * data_size(dtype);
  }
  std::string str() const {
    std::string s = "uid " + std::to_string(uid) + " dims [";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
    s += "] strides [";
    for (size_t i = 0; i < strides.size(); ++i) s += (i ? "," : "") + std::to_string(strides[i]);
    return s + "] align " + std::to_string(align);
  }
};

struct ConvInfo {
  cudnnDataType_t comp = CUDNN_DATA_FLOAT;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  int64_t spatial = 0;
  std::vector<int64_t> pre, post, stride, dil;
};

enum class OpKind { Fwd, BwdData, BwdFilter };
struct OpInfo {
  OpKind kind = OpKind::Fwd;
  double alpha = 1, beta = 0;
  ConvInfo conv;
  TensorInfo x, w, y;  // BwdData: x is dx (the output), y is dy; BwdFilter: w is dw (the output), y is dy
};

// How an engine reads float32 inputs.
enum class InputRounding { None, TF32, Half };

// output = alpha * op(inputs) + beta * output for a 2-D convolution whose tensors are 4-D (strided, NCHW
// dimension order); with beta == 0 the output is not read. Sums are in double, or in float32 for float32
// data when accumulate_in_float32.
void run_convolution(const OpInfo& op, void* x, void* w, void* y, InputRounding rounding,
                     bool accumulate_in_float32);

}  // namespace fake_cudnn
