// Philox-driven fills, bit for bit those of engine/cpu/random.cpp: element i takes word i % 4 of block
// (first + i / 4), with first reserved from the Generator on the host. One thread per Philox block.
#include <cmath>
#include <type_traits>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"
#include "engine/generator.h"

namespace dismax::cuda {

namespace {

struct Words {
  uint32_t w[4];
};

// Generator::philox (Philox4x32-10).
__device__ Words philox(uint64_t key, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    const uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c1 = lo1;
    c3 = lo0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// The conversions of engine/generator.h (u32_to_unit_float) and engine/cpu/random.cpp (unit). Every product
// and sum is rounded on its own (__dmul_rn, __dadd_rn): an FMA would change the last bit.
__device__ float unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
__device__ double unit_double(uint32_t x) { return x * (1.0 / 4294967296.0); }  // [0, 1)
__device__ double unit_open(uint32_t x) {  // (0, 1)
  return __dmul_rn(__dadd_rn(static_cast<double>(x), 0.5), 1.0 / 4294967296.0);
}

template <class T>
struct UniformValues {
  double low, high;
  __device__ void operator()(const Words& w, T (&v)[4]) const {
    for (int j = 0; j < 4; ++j) {
      // [low, high): 24-bit floats for float32 keep the upper bound excluded after rounding.
      const double u = std::is_same_v<T, float> ? unit_float(w.w[j]) : unit_double(w.w[j]);
      v[j] = static_cast<T>(__dadd_rn(low, __dmul_rn(high - low, u)));
      if (v[j] >= static_cast<T>(high) && high > low) v[j] = static_cast<T>(low);
    }
  }
};

template <class T>
struct NormalValues {
  double mean, stddev;
  __device__ void operator()(const Words& w, T (&v)[4]) const {
    constexpr double kTwoPi = 2.0 * M_PI;
    for (int j = 0; j < 4; j += 2) {  // Box-Muller on each pair of words
      const double r = ::sqrt(__dmul_rn(-2.0, ::log(unit_open(w.w[j]))));
      const double theta = __dmul_rn(kTwoPi, unit_open(w.w[j + 1]));
      const double scaled = __dmul_rn(stddev, r);
      v[j] = static_cast<T>(__dadd_rn(mean, __dmul_rn(scaled, ::cos(theta))));
      v[j + 1] = static_cast<T>(__dadd_rn(mean, __dmul_rn(scaled, ::sin(theta))));
    }
  }
};

template <class T>
struct BernoulliValues {
  double p;
  __device__ void operator()(const Words& w, T (&v)[4]) const {
    for (int j = 0; j < 4; ++j) v[j] = static_cast<T>(unit_double(w.w[j]) < p ? 1 : 0);
  }
};

template <class T, class Values>
__global__ void philox_fill_kernel(T* out, int64_t n, int64_t blocks, uint64_t seed, uint64_t first, Values values) {
  DISMAX_GRID_STRIDE_LOOP(blk, blocks) {
    T v[4];
    values(philox(seed, first + static_cast<uint64_t>(blk)), v);
    for (int64_t j = 0; j < 4 && blk * 4 + j < n; ++j) out[blk * 4 + j] = v[j];
  }
}

// Reserves the blocks from `gen` in the CPU's order (after the layout check, before the dtype check), then
// fills out with make_values(TypeTag<T>).
template <class MakeValues>
void fill_blocks(Tensor& out, Generator& gen, const char* name, const MakeValues& make_values) {
  DISMAX_CHECK(out.is_contiguous(), "random fill: needs a contiguous tensor");
  DeviceGuard guard(out);
  const int64_t n = out.numel();
  const int64_t blocks = (n + 3) / 4;
  const uint64_t seed = gen.seed(), first = gen.advance(static_cast<uint64_t>(blocks));
  dispatch_float(out.dtype(), "random fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (n == 0) return;
    philox_fill_kernel<T><<<blocks_for(blocks), kThreads, 0, stream()>>>(ptr<T>(out), n, blocks, seed, first,
                                                                         make_values(tag));
    DISMAX_CUDA_CHECK_LAUNCH(name);
  });
}

}  // namespace

void uniform(Tensor& out, Generator& gen, double low, double high) {
  fill_blocks(out, gen, "uniform",
              [&](auto tag) { return UniformValues<typename decltype(tag)::type>{low, high}; });
}

void normal(Tensor& out, Generator& gen, double mean, double std) {
  fill_blocks(out, gen, "normal", [&](auto tag) { return NormalValues<typename decltype(tag)::type>{mean, std}; });
}

void bernoulli(Tensor& out, Generator& gen, double p) {
  DISMAX_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: probability ", p, " is outside [0, 1]");
  fill_blocks(out, gen, "bernoulli", [&](auto tag) { return BernoulliValues<typename decltype(tag)::type>{p}; });
}

}  // namespace dismax::cuda
