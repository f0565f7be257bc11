#include <cstring>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

namespace {
template <class T>
void fill_typed(Tensor& out, T value) {
  T* p = static_cast<T*>(out.raw_data());
  const Shape& strides = out.strides();
  StridedLoop<1> loop(out.sizes(), {&strides});
  loop.run([&](std::array<int64_t, 1> off, int64_t n, std::array<int64_t, 1> s) {
    T* q = p + off[0];
    if (s[0] == 1) {
      std::fill(q, q + n, value);
    } else {
      for (int64_t i = 0; i < n; ++i) q[i * s[0]] = value;
    }
  });
}

template <class D, class S>
void copy_typed(Tensor& dst, const Tensor& src) {
  D* d = static_cast<D*>(dst.raw_data());
  const S* s = static_cast<const S*>(src.raw_data());
  const Shape &ds = dst.strides(), &ss = src.strides();
  StridedLoop<2> loop(dst.sizes(), {&ds, &ss});
  loop.run([&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> st) {
    D* dp = d + off[0];
    const S* sp = s + off[1];
    if constexpr (std::is_same_v<D, S>) {
      if (st[0] == 1 && st[1] == 1) {
        std::memcpy(dp, sp, n * sizeof(D));
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) dp[i * st[0]] = static_cast<D>(sp[i * st[1]]);
  });
}
}  // namespace

void fill(Tensor& out, double value) {
  dispatch_all(out.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_typed<T>(out, static_cast<T>(value));
  });
}

void copy(Tensor& dst, const Tensor& src) {
  DISMAX_CHECK(dst.sizes() == src.sizes(), "copy: shapes ", shape_str(dst.sizes()), " and ", shape_str(src.sizes()),
               " differ");
  dispatch_all(dst.dtype(), "copy", [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_all(src.dtype(), "copy", [&](auto stag) {
      using S = typename decltype(stag)::type;
      copy_typed<D, S>(dst, src);
    });
  });
}

}  // namespace dismax::cpu
