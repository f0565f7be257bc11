// Process-wide numeric choices of the GPU kernels.
#pragma once

#include <string>

namespace dismax {

// TF32 tensor-core math for float32 GEMM and convolution on CUDA (10-bit mantissa products, about 8x the
// fp32 rate on Ampere and later). Off by default so float32 means float32; the environment variable
// DISMAX_ALLOW_TF32=1 turns it on at start-up.
void set_allow_tf32(bool allow);
bool allow_tf32();

// Convolution algorithm families a GPU backend must not choose, as bit flags. Winograd and FFT engines
// transform the problem and lose a few bits against direct summation (their error grows with the tile
// size); non-deterministic engines sum in a different order on every run. Parity tests deny them so that
// 1e-4 checks do not depend on the engine the heuristics pick. Default: none denied, or the comma-separated
// list in DISMAX_CONV_DENY ("winograd,fft,nondeterministic") at start-up.
enum ConvAlgorithmFamily : unsigned {
  kConvWinograd = 1u << 0,
  kConvFft = 1u << 1,
  kConvNondeterministic = 1u << 2,
};
void set_denied_conv_algorithms(unsigned families);
unsigned denied_conv_algorithms();
// Parses "winograd,fft" into flags; throws naming the unknown word.
unsigned parse_conv_algorithm_families(const std::string& list);

// Sets the denied families for its lifetime and restores the previous set.
class DeniedConvAlgorithmsGuard {
 public:
  explicit DeniedConvAlgorithmsGuard(unsigned families) : previous_(denied_conv_algorithms()) {
    set_denied_conv_algorithms(families);
  }
  ~DeniedConvAlgorithmsGuard() { set_denied_conv_algorithms(previous_); }
  DeniedConvAlgorithmsGuard(const DeniedConvAlgorithmsGuard&) = delete;
  DeniedConvAlgorithmsGuard& operator=(const DeniedConvAlgorithmsGuard&) = delete;

 private:
  unsigned previous_;
};

}  // namespace dismax
