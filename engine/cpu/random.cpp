// Philox-driven fills: element i takes word i % 4 of block (offset + i / 4), so the result does not
// depend on the thread count and matches the CUDA kernels.
#include <cmath>

#include "engine/cpu/common.h"
#include "engine/cpu/cpu_kernels.h"
#include "engine/generator.h"

namespace dismax::cpu {

namespace {
template <class F>
void fill_blocks(Tensor& out, Generator& gen, const F& value_of) {
  DISMAX_CHECK(out.is_contiguous(), "random fill: needs a contiguous tensor");
  const int64_t n = out.numel();
  const uint64_t blocks = static_cast<uint64_t>((n + 3) / 4);
  const uint64_t seed = gen.seed(), first = gen.advance(blocks);
  dispatch_float(out.dtype(), "random fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(out.raw_data());
    parallel_for(0, static_cast<int64_t>(blocks), 4096, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        const auto w = Generator::philox(seed, first + static_cast<uint64_t>(blk));
        T values[4];
        value_of(w, values);
        for (int64_t j = 0; j < 4 && blk * 4 + j < n; ++j) p[blk * 4 + j] = values[j];
      }
    });
  });
}

double unit(uint32_t w) { return (static_cast<double>(w) + 0.5) * (1.0 / 4294967296.0); }  // (0, 1)
}  // namespace

void uniform(Tensor& out, Generator& gen, double low, double high) {
  fill_blocks(out, gen, [&](const std::array<uint32_t, 4>& w, auto* v) {
    using T = std::remove_pointer_t<decltype(v)>;
    for (int j = 0; j < 4; ++j) {
      // [low, high): 24-bit floats for float32 keep the upper bound excluded after rounding.
      const double u = std::is_same_v<T, float> ? u32_to_unit_float(w[j]) : (w[j] * (1.0 / 4294967296.0));
      v[j] = static_cast<T>(low + (high - low) * u);
      if (v[j] >= static_cast<T>(high) && high > low) v[j] = static_cast<T>(low);
    }
  });
}

void normal(Tensor& out, Generator& gen, double mean, double std) {
  fill_blocks(out, gen, [&](const std::array<uint32_t, 4>& w, auto* v) {
    using T = std::remove_pointer_t<decltype(v)>;
    for (int j = 0; j < 4; j += 2) {  // Box-Muller on each pair of words
      const double r = std::sqrt(-2.0 * std::log(unit(w[j])));
      const double theta = 2.0 * M_PI * unit(w[j + 1]);
      v[j] = static_cast<T>(mean + std * r * std::cos(theta));
      v[j + 1] = static_cast<T>(mean + std * r * std::sin(theta));
    }
  });
}

void bernoulli(Tensor& out, Generator& gen, double p) {
  DISMAX_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: probability ", p, " is outside [0, 1]");
  fill_blocks(out, gen, [&](const std::array<uint32_t, 4>& w, auto* v) {
    using T = std::remove_pointer_t<decltype(v)>;
    for (int j = 0; j < 4; ++j) v[j] = static_cast<T>(w[j] * (1.0 / 4294967296.0) < p ? 1 : 0);
  });
}

}  // namespace dismax::cpu
