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
__global__ void fill_vectorized_kernel(Vec16<T>* out, T value, int64_t vectors) {
  Vec16<T> v;
  for (int j = 0; j < Vec16<T>::kWidth; ++j) v.v[j] = value;
  DISMAX_GRID_STRIDE_LOOP(i, vectors) out[i] = v;
}

template <class T, class Index>
__global__ void fill_strided_kernel(T* out, T value, Index n, StridedIndexer<1, Index> indexer) {
  DISMAX_GRID_STRIDE_LOOP_T(Index, i, n) {
    Index off[1];
    indexer.offsets(i, off);
    out[off[0]] = value;
  }
}

template <class D, class S>
__global__ void copy_contiguous_kernel(D* dst, const S* src, int64_t n) {
  DISMAX_GRID_STRIDE_LOOP(i, n) dst[i] = convert<D>(src[i]);
}

template <class D, class S, class Index>
__global__ void copy_strided_kernel(D* dst, const S* src, Index n, StridedIndexer<2, Index> indexer) {
  DISMAX_GRID_STRIDE_LOOP_T(Index, i, n) {
    Index off[2];
    indexer.offsets(i, off);
    dst[off[0]] = convert<D>(src[off[1]]);
  }
}

template <class T>
void fill_typed(Tensor& out, T value) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (out.is_contiguous()) {
    T* p = ptr<T>(out);
    const int64_t vectors = aligned16(p) ? n / Vec16<T>::kWidth : 0, done = vectors * Vec16<T>::kWidth;
    if (vectors > 0)
      fill_vectorized_kernel<T><<<blocks_for(vectors), kThreads, 0, stream()>>>(reinterpret_cast<Vec16<T>*>(p),
                                                                               value, vectors);
    if (done < n) fill_contiguous_kernel<T><<<blocks_for(n - done), kThreads, 0, stream()>>>(p + done, value, n - done);
  } else {
    with_indexer(StridedIndexer<1>(out.sizes(), {&out.strides()}), n, [&](const auto& indexer) {
      using Index = std::remove_cv_t<std::remove_reference_t<decltype(indexer.sizes[0])>>;
      fill_strided_kernel<T, Index>
          <<<blocks_for(n), kThreads, 0, stream()>>>(ptr<T>(out), value, static_cast<Index>(n), indexer);
    });
  }
  DISMAX_CUDA_CHECK_LAUNCH("fill");
}

// A same-dtype copy whose operands are rows of contiguous elements at a fixed pitch (cat's slots, the
// slices its backward takes, any narrow along one dim) is one 2-D DMA copy instead of a kernel that
// decomposes every element's index. False when the layout is not of that form.
template <class T>
bool copy_as_rows(Tensor& dst, const Tensor& src, const StridedIndexer<2>& indexer) {
  if (indexer.ndim != 2 || indexer.strides[1][0] != 1 || indexer.strides[1][1] != 1) return false;
  const int64_t rows = indexer.sizes[0], width = indexer.sizes[1];
  const int64_t dpitch = indexer.strides[0][0], spitch = indexer.strides[0][1];
  if (dpitch < width || spitch < width) return false;
  DISMAX_CUDA_CHECK(cudaMemcpy2DAsync(dst.raw_data(), dpitch * sizeof(T), src.raw_data(), spitch * sizeof(T),
                                      width * sizeof(T), rows, cudaMemcpyDeviceToDevice, stream()));
  return true;
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
    if constexpr (std::is_same_v<D, S>) {
      if (copy_as_rows<D>(dst, src, indexer)) return;
    }
    with_indexer(indexer, n, [&](const auto& ix) {
      using Index = std::remove_cv_t<std::remove_reference_t<decltype(ix.sizes[0])>>;
      copy_strided_kernel<D, S, Index><<<blocks_for(n), kThreads, 0, stream()>>>(ptr<D>(dst), ptr<const S>(src),
                                                                                 static_cast<Index>(n), ix);
    });
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
