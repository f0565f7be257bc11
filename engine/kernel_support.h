// Helpers both backends' kernels use: dtype dispatch and the [outer, n, inner] split of a tensor around one
// dim. Each backend passes its name so an unsupported dtype is reported with the device.
#pragma once

#include <cstdint>
#include <utility>

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"

namespace dismax {

template <class T> struct TypeTag { using type = T; };

// Calls fn(TypeTag<float>{}) or fn(TypeTag<double>{}); throws naming `op` and `device` for other dtypes.
template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, const char* device, F&& fn) {
  switch (dtype) {
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    default:
      DISMAX_FAIL(op, ": unsupported dtype ", dtype_name(dtype), " on ", device, " (float32 and float64 only)");
  }
}

// As dispatch_float, plus int64 (the binary ops also update counters such as BatchNorm's num_batches_tracked).
template <class F>
decltype(auto) dispatch_float_or_int64(DType dtype, const char* op, const char* device, F&& fn) {
  if (dtype == DType::Int64) return fn(TypeTag<int64_t>{});
  return dispatch_float(dtype, op, device, std::forward<F>(fn));
}

// As dispatch_float, plus int64 and uint8.
template <class F>
decltype(auto) dispatch_all(DType dtype, const char* op, const char* device, F&& fn) {
  switch (dtype) {
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    case DType::Int64: return fn(TypeTag<int64_t>{});
    case DType::UInt8: return fn(TypeTag<uint8_t>{});
    default: DISMAX_FAIL(op, ": unsupported dtype ", dtype_name(dtype), " on ", device);
  }
}

// [outer, n, inner] decomposition of a contiguous tensor around `dim`.
struct DimSplit {
  int64_t outer = 1, n = 1, inner = 1;
  DimSplit(const Shape& shape, int64_t dim) {
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
      if (d < dim) outer *= shape[d];
      else if (d == dim) n = shape[d];
      else inner *= shape[d];
    }
  }
};

}  // namespace dismax
