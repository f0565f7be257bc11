#include <cstring>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

void index_select(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out) {
  const DimSplit s(x.sizes(), dim);
  const int64_t m = index.numel();
  const int64_t* idx = static_cast<const int64_t*>(index.raw_data());
  const size_t row_bytes = s.inner * x.itemsize();
  const char* px = static_cast<const char*>(x.raw_data());
  char* py = static_cast<char*>(out.raw_data());
  parallel_for(0, s.outer * m, std::max<int64_t>(1, 65536 / std::max<int64_t>(s.inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t o = it / m, i = it % m;
      std::memcpy(py + (o * m + i) * row_bytes, px + (o * s.n + idx[i]) * row_bytes, row_bytes);
    }
  });
}

void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const DimSplit s(out.sizes(), dim);
  const int64_t m = index.numel();
  const int64_t* idx = static_cast<const int64_t*>(index.raw_data());
  dispatch_float(out.dtype(), "index_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = static_cast<T*>(out.raw_data());
    const T* ps = static_cast<const T*>(src.raw_data());
    // Parallel over `outer` only: two source rows may target the same destination row.
    parallel_for(0, s.outer, 1, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o)
        for (int64_t i = 0; i < m; ++i) {
          T* dst = po + (o * s.n + idx[i]) * s.inner;
          const T* row = ps + (o * m + i) * s.inner;
          for (int64_t k = 0; k < s.inner; ++k) dst[k] += row[k];
        }
    });
  });
}

void one_hot(const Tensor& labels, Tensor& out) {
  const int64_t n = labels.numel(), C = out.size(1);
  const int64_t* pl = static_cast<const int64_t*>(labels.raw_data());
  fill(out, 0.0);
  dispatch_float(out.dtype(), "one_hot", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = static_cast<T*>(out.raw_data());
    for (int64_t i = 0; i < n; ++i) po[i * C + pl[i]] = T(1);
  });
}

}  // namespace dismax::cpu
