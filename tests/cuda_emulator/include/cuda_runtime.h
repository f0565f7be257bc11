// Fake cuda_runtime.h: the runtime API plus what dismax's kernels need to run as host code.
// convert_launches.py rewrites a launch kernel<<<grid, block, smem, stream>>>(args) into
//   emu_launch("kernel", grid, block, smem, stream, [](auto... emu_a) { kernel(emu_a...); }, args...),
// which checks the configuration and the pointer arguments at once and queues the grid on the stream
// (kernel_runner.cpp runs each block's threads as fibers, with real barriers for __syncthreads and shuffles).
#pragma once
#include "cuda_runtime_api.h"

// The real header brings in the math library and the integer types; the kernels rely on that.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

namespace emu {

[[noreturn]] void fail(const std::string& what);  // prints the kernel, block and thread, then aborts

void syncthreads();
int lane();
void check_full_warp(unsigned mask, const char* what);
// A shuffle: every lane of the warp publishes `n` bytes, waits for the others, reads a lane's, and waits
// again before the buffer is reused.
constexpr size_t kMaxShuffleBytes = 16;
void shuffle_publish(const void* v, size_t n);
void shuffle_read(int src_lane, void* out, size_t n);
void shuffle_done();

// Counts the launch; false (with cudaErrorInvalidConfiguration set) for a configuration a GPU refuses.
bool check_launch(const char* name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream);
void check_pointer_arg(const char* name, int index, const void* p);
// Queues the grid; `thread` runs once per thread of each block.
void enqueue_grid(const char* name, dim3 grid, dim3 block, std::function<void()> thread);

template <class T>
T shuffle(unsigned mask, T v, int src_lane, bool keep_own_if_outside, const char* what) {
  static_assert(sizeof(T) <= kMaxShuffleBytes, "shuffled type too large for the emulator");
  check_full_warp(mask, what);
  shuffle_publish(&v, sizeof(T));
  T out = v;
  if (!(keep_own_if_outside && (src_lane < 0 || src_lane >= 32)))
    shuffle_read(src_lane & 31, &out, sizeof(T));
  shuffle_done();
  return out;
}

}  // namespace emu

inline void __syncthreads() { emu::syncthreads(); }

template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  if (width != 32) emu::fail("__shfl_down_sync with width != 32 (not emulated)");
  return emu::shuffle(mask, v, emu::lane() + static_cast<int>(delta), true, "__shfl_down_sync");
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  if (width != 32) emu::fail("__shfl_xor_sync with width != 32 (not emulated)");
  return emu::shuffle(mask, v, emu::lane() ^ lane_mask, true, "__shfl_xor_sync");
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  if (width != 32) emu::fail("__shfl_sync with width != 32 (not emulated)");
  return emu::shuffle(mask, v, src_lane, false, "__shfl_sync");
}

inline unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((uint64_t{a} * b) >> 32); }
// The _rn intrinsics exist to forbid contraction into an FMA; volatile does the same for the host compiler.
inline double __dmul_rn(double a, double b) {
  volatile double r = a * b;
  return r;
}
inline double __dadd_rn(double a, double b) {
  volatile double r = a + b;
  return r;
}
inline float __fmul_rn(float a, float b) {
  volatile float r = a * b;
  return r;
}
inline float __fadd_rn(float a, float b) {
  volatile float r = a + b;
  return r;
}
// Threads never run concurrently, so a plain read-modify-write is atomic.
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}

// CUDA's global min/max overloads.
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

template <class Kernel, class... Args>
void emu_launch(const char* name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Kernel kernel,
                Args... args) {
  if (!emu::check_launch(name, grid, block, smem, stream)) return;  // the error waits for cudaGetLastError
  int index = 0;
  auto check_arg = [&](const auto& a) {
    if constexpr (std::is_pointer_v<std::decay_t<decltype(a)>>)
      emu::check_pointer_arg(name, index, static_cast<const void*>(a));
    ++index;
  };
  (check_arg(args), ...);
  // Each thread gets its own copy of the arguments, as kernel parameters are per thread.
  emu::enqueue_grid(name, grid, block, [kernel, args...] { kernel(args...); });
}
