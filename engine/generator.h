// A seedable random number generator passed explicitly to whatever draws random numbers (no global RNG,
// so two models in one process never share a stream). Counter-based (Philox4x32-10): the n-th block of
// four 32-bit words depends only on (seed, n), so CPU and CUDA kernels produce identical streams in
// parallel, and the whole state is two integers that a checkpoint can save.
#pragma once

#include <array>
#include <cstdint>

namespace dismax {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) { seed_ = seed; offset_ = 0; }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }  // number of Philox blocks consumed
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }
  // Reserves `blocks` Philox blocks and returns the first block's counter.
  uint64_t advance(uint64_t blocks) { uint64_t first = offset_; offset_ += blocks; return first; }

  // Host draws (each consumes one block).
  uint32_t next_u32() { return philox(seed_, advance(1))[0]; }
  uint64_t next_u64();
  double next_double();  // U[0, 1) with 53 random bits
  uint64_t next_below(uint64_t bound);  // uniform integer in [0, bound), unbiased

  static std::array<uint32_t, 4> philox(uint64_t key, uint64_t counter);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// U[0,1) float from 24 random bits / double from 53 bits (two words).
inline float u32_to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
inline double u64_to_unit_double(uint64_t x) { return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace dismax
