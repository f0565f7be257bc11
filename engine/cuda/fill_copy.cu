// fill and copy (strided, with dtype conversion) on one CUDA device.
#include <type_traits>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"

namespace dismax::cuda {

namespace {

// Float -> integer conversions reproduce what the CPU backend gets from x86 (cvttss2si): NaN and values out
// of range give the "integer indefinite" value, and uint8 keeps the low byte of an int32 conversion. Plain
// CUDA casts would saturate instead.
template <class D, class S>
__device__ D convert(S v) {
  if constexpr (std::is_floating_point_v<S> && std::is_same_v<D, uint8_t>) {
    const double d = v;
    const int32_t i = (d > -2147483649.0 && d < 2147483648.0) ? static_cast<int32_t>(d) : INT32_MIN;
    return static_cast<uint8_t>(i);
  } else if constexpr (std::is_floating_point_v<S> && std::is_same_v<D, int64_t>) {
    const double d = v;
    return (d >= -9223372036854775808.0 && d < 9223372036854775808.0) ? static_cast<int64_t>(d) : INT64_MIN;
  } else {
    return static_cast<D>(v);
  }
}

template <class T>
__global__ void fill_contiguous_kernel(T* out, T value, int64_t n) {
  DISMAX_GRID_STRIDE_LOOP(i, n) out[i] = value;
}

template <class T>
__global__ void fill_strided_kernel(T* out, T value, int64_t n, StridedIndexer<1> indexer) {
  DISMAX_GRID_STRIDE_LOOP(i, n) {
    int64_t off[1];
    indexer.offsets(i, off);
    out[off[0]] = value;
  }
}

template <class D, class S>
__global__ void copy_contiguous_kernel(D* dst, const S* src, int64_t n) {
  DISMAX_GRID_STRIDE_LOOP(i, n) dst[i] = convert<D>(src[i]);
}

template <class D, class S>
__global__ void copy_strided_kernel(D* dst, const S* src, int64_t n, StridedIndexer<2> indexer) {
  DISMAX_GRID_STRIDE_LOOP(i, n) {
    int64_t off[2];
    indexer.offsets(i, off);
    dst[off[0]] = convert<D>(src[off[1]]);
  }
}

template <class T>
void fill_typed(Tensor& out, T value) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (out.is_contiguous()) {
    fill_contiguous_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(ptr<T>(out), value, n);
  } else {
    const StridedIndexer<1> indexer(out.sizes(), {&out.strides()});
    fill_strided_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(ptr<T>(out), value, n, indexer);
  }
  DISMAX_CUDA_CHECK_LAUNCH("fill");
}

template <class D, class S>
void copy_typed(Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  const bool contiguous = dst.is_contiguous() && src.is_contiguous();
  if constexpr (std::is_same_v<D, S>) {
    if (contiguous) {
      DISMAX_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), static_cast<size_t>(n) * sizeof(D),
                                        cudaMemcpyDeviceToDevice, stream()));
      return;
    }
  }
  if (contiguous) {
    copy_contiguous_kernel<D, S><<<blocks_for(n), kThreads, 0, stream()>>>(ptr<D>(dst), ptr<const S>(src), n);
  } else {
    const StridedIndexer<2> indexer(dst.sizes(), {&dst.strides(), &src.strides()});
    copy_strided_kernel<D, S><<<blocks_for(n), kThreads, 0, stream()>>>(ptr<D>(dst), ptr<const S>(src), n, indexer);
  }
  DISMAX_CUDA_CHECK_LAUNCH("copy");
}

}  // namespace

void fill(Tensor& out, double value) {
  DeviceGuard guard(out);
  dispatch_all(out.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_typed<T>(out, static_cast<T>(value));  // converted on the host, exactly as the CPU backend does
  });
}

void copy(Tensor& dst, const Tensor& src) {
  DISMAX_CHECK(dst.sizes() == src.sizes(), "copy: shapes ", shape_str(dst.sizes()), " and ", shape_str(src.sizes()),
               " differ");
  DeviceGuard guard(dst);
  dispatch_all(dst.dtype(), "copy", [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_all(src.dtype(), "copy", [&](auto stag) {
      using S = typename decltype(stag)::type;
      copy_typed<D, S>(dst, src);
    });
  });
}

}  // namespace dismax::cuda
