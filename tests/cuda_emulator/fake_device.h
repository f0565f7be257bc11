// The emulated device as the fake libraries see it (implemented in fake_cudart.cpp): which memory a pointer
// is, the one stream's queue of work, and problem reporting.
#pragma once
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

namespace fake {

// An EMU_* switch: on when set to anything but "" or "0".
inline bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

enum class Mem { None, Device, Pinned };

// The kind of registered memory [p, p + n) lies in; None for pageable host memory or a range that leaves
// its allocation.
Mem memory_kind(const void* p, size_t n = 1);
bool is_device_range(const void* p, size_t n);

// A stream work may be queued on: the legacy default stream 0, or one made by cudaStreamCreateWithFlags.
// Once a stream has been created, work on the legacy stream is reported (`what` names the call): dismax
// runs everything on its own stream, and anything left on stream 0 would not be ordered with it.
bool valid_stream(cudaStream_t s, const char* what = nullptr);
// Queues work. All streams share one queue (their order is the issue order, a schedule the API allows);
// it runs at the next synchronisation point, or at once with EMU_SYNC=1. `cost` advances the virtual
// clock that events read.
void enqueue(double cost, std::function<void()> fn);

// True once main() has returned (set by the emulator's main): library objects destroyed from then on are
// destroyed during process teardown, when the real cuDNN may already be unloaded.
bool exiting();
void set_exiting();

void set_last_error(cudaError_t e);  // what the next cudaGetLastError returns (a failed launch)

// A broken API rule: printed as "FAKE: msg" and counted; the count is printed at exit.
void report(const std::string& msg);
long long problem_count();

// Rounds a float32 to TF32 (10 mantissa bits, to nearest with ties away from zero), as tensor cores read it.
inline float round_to_tf32(float x) {
  if (!std::isfinite(x)) return x;
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x1000u) & 0xFFFFE000u;
  std::memcpy(&x, &u, 4);
  return x;
}

}  // namespace fake
