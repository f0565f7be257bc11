// Fake CUDA runtime: one device (cuda:0) whose memory is registered host memory, filled with 0xFF (NaN) when
// allocated; the legacy default stream 0 and created streams, sharing one queue.
//
// The stream is a queue that runs only at a synchronisation point: cudaStreamSynchronize,
// cudaDeviceSynchronize, cudaEventSynchronize, cudaMemcpy, a cudaMemcpyAsync from or to pageable memory,
// cudaFree, cudaFreeHost. That is the most adversarial schedule the API allows: host code that reads
// results, or reuses the host buffer of an asynchronous copy, without waiting sees stale data.
// EMU_SYNC=1 runs each operation at once instead. EMU_NO_DEVICE=1 makes cudaGetDeviceCount fail;
// EMU_MALLOC_LIMIT=bytes makes larger cudaMalloc calls fail; EMU_ABORT_ON_PROBLEM=1 aborts at the first
// reported problem.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fake_device.h"

struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  uint64_t pending_seq = 0;  // queue position of the latest record; complete once the queue has passed it
  double time = 0;           // the virtual clock when it completed
};

namespace fake {
namespace {

std::recursive_mutex mu;
thread_local cudaError_t last_error = cudaSuccess;
long long problems = 0;

struct Region {
  size_t size;
  Mem kind;
};
std::map<uintptr_t, Region> regions;  // by start address

struct Op {
  uint64_t seq;
  std::function<void()> fn;
  double cost;
};
std::deque<Op> queue;
uint64_t enqueued = 0, completed = 0;
double virtual_clock = 0;
bool draining = false;
const bool sync_mode = env_flag("EMU_SYNC");

std::vector<cudaEvent_t> live_events;

cudaError_t fail(cudaError_t e) {
  last_error = e;
  return e;
}

void drain_until(uint64_t seq) {
  if (draining) return;  // a queued operation that synchronises (a deferred event destroy freeing memory)
  draining = true;
  while (!queue.empty() && queue.front().seq <= seq) {
    Op op = std::move(queue.front());
    queue.pop_front();
    op.fn();
    virtual_clock += op.cost;
    completed = op.seq;
  }
  draining = false;
}
void drain() { drain_until(UINT64_MAX); }

bool overlaps_registered(const void* p, size_t n) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = regions.upper_bound(a + n - 1);
  if (it == regions.begin()) return false;
  --it;
  return it->first + it->second.size > a;
}

bool live_event(cudaEvent_t e) {
  return std::find(live_events.begin(), live_events.end(), e) != live_events.end();
}

cudaError_t allocate(void** ptr, size_t size, size_t alignment, Mem kind) {
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  if (size == 0) {
    *ptr = nullptr;
    return cudaSuccess;
  }
  void* p = std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  std::memset(p, 0xFF, size);  // uninitialised memory reads as NaN
  regions[reinterpret_cast<uintptr_t>(p)] = {size, kind};
  *ptr = p;
  return cudaSuccess;
}

cudaError_t release(void* ptr, Mem kind, const char* fn, const char* allocator) {
  if (ptr == nullptr) return cudaSuccess;
  drain();  // freeing synchronises the device
  auto it = regions.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == regions.end() || it->second.kind != kind) {
    report(std::string(fn) + " of a pointer that " + allocator + " did not return");
    return fail(cudaErrorInvalidValue);
  }
  regions.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

const char* kind_name(cudaMemcpyKind k) {
  switch (k) {
    case cudaMemcpyHostToHost: return "HostToHost";
    case cudaMemcpyHostToDevice: return "HostToDevice";
    case cudaMemcpyDeviceToHost: return "DeviceToHost";
    case cudaMemcpyDeviceToDevice: return "DeviceToDevice";
    default: return "Default";
  }
}
const char* mem_name(Mem m) {
  return m == Mem::Device ? "device" : m == Mem::Pinned ? "pinned" : "host/out of range";
}

// Whether both ranges are memory of the kinds `kind` names; reports if not.
bool check_copy(const char* fn, void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  const Mem d = memory_kind(dst, n), s = memory_kind(src, n);
  // Host memory is pinned, or pageable memory that does not overlap a registered allocation.
  auto host = [n](const void* p, Mem m) {
    return m == Mem::Pinned || (m == Mem::None && !overlaps_registered(p, n));
  };
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToDevice: ok = d == Mem::Device && host(src, s); break;
    case cudaMemcpyDeviceToHost: ok = s == Mem::Device && host(dst, d); break;
    case cudaMemcpyDeviceToDevice: ok = d == Mem::Device && s == Mem::Device; break;
    case cudaMemcpyHostToHost: ok = host(dst, d) && host(src, s); break;
    default: break;
  }
  if (!ok) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s(%s, %zu bytes): dst %p is %s, src %p is %s", fn, kind_name(kind), n,
                  dst, mem_name(d), src, mem_name(s));
    report(buf);
  }
  return ok;
}

struct ExitSummary {
  ~ExitSummary() {
    if (!queue.empty())
      std::fprintf(stderr, "FAKE: %zu operation(s) still queued at exit (never synchronised)\n",
                   queue.size());
    std::fprintf(stderr, "FAKE: %lld problem(s) reported by the fake CUDA/cuBLAS/cuDNN\n", problems);
  }
} exit_summary;

}  // namespace

void report(const std::string& msg) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  ++problems;
  std::fprintf(stderr, "FAKE: %s\n", msg.c_str());
  std::fflush(stderr);
  if (env_flag("EMU_ABORT_ON_PROBLEM")) std::abort();
}
long long problem_count() { return problems; }

Mem memory_kind(const void* p, size_t n) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = regions.upper_bound(a);
  if (it == regions.begin()) return Mem::None;
  --it;
  return a + n <= it->first + it->second.size ? it->second.kind : Mem::None;
}
bool is_device_range(const void* p, size_t n) { return memory_kind(p, n == 0 ? 1 : n) == Mem::Device; }

std::vector<cudaStream_t> created_streams;
bool exiting_flag = false;

bool valid_stream(cudaStream_t s, const char* what) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (s == nullptr) {
    if (what != nullptr && !created_streams.empty())
      report(std::string(what) + " on the legacy default stream although a stream was created (work there is "
                                 "not ordered with the non-blocking stream)");
    return true;
  }
  return std::find(created_streams.begin(), created_streams.end(), s) != created_streams.end();
}

bool exiting() { return exiting_flag; }
void set_exiting() { exiting_flag = true; }

void enqueue(double cost, std::function<void()> fn) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  queue.push_back({++enqueued, std::move(fn), cost});
  if (sync_mode) drain();
}

void set_last_error(cudaError_t e) { last_error = e; }

}  // namespace fake

using fake::fail;
using fake::Mem;
using fake::memory_kind;
using fake::report;

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return fail(cudaErrorInvalidValue);
  if (fake::env_flag("EMU_NO_DEVICE")) return fail(cudaErrorInsufficientDriver);
  *count = 1;
  return cudaSuccess;
}
// EMU_CUDART_VERSION overrides the runtime version reported (to test the engine's library check).
cudaError_t cudaRuntimeGetVersion(int* version) {
  if (version == nullptr) return fail(cudaErrorInvalidValue);
  const char* v = std::getenv("EMU_CUDART_VERSION");
  *version = v != nullptr && *v != '\0' ? std::atoi(v) : CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  if (version == nullptr) return fail(cudaErrorInvalidValue);
  *version = fake::env_flag("EMU_NO_DEVICE") ? 0 : CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device == 0) return cudaSuccess;
  report("cudaSetDevice(" + std::to_string(device) + "): only device 0 exists");
  return fail(cudaErrorInvalidDevice);
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (const char* limit = std::getenv("EMU_MALLOC_LIMIT"); limit && size > std::strtoull(limit, nullptr, 10))
    return fail(cudaErrorMemoryAllocation);
  return fake::allocate(ptr, size, 256, Mem::Device);
}
cudaError_t cudaFree(void* ptr) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  return fake::release(ptr, Mem::Device, "cudaFree", "cudaMalloc");
}
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int flags) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (flags > 0xF) return fail(cudaErrorInvalidValue);
  return fake::allocate(ptr, size, 4096, Mem::Pinned);
}
cudaError_t cudaFreeHost(void* ptr) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  return fake::release(ptr, Mem::Pinned, "cudaFreeHost", "cudaHostAlloc");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::valid_stream(stream, "cudaMemcpyAsync")) return fail(cudaErrorInvalidResourceHandle);
  if (n == 0) return cudaSuccess;
  if (!fake::check_copy("cudaMemcpyAsync", dst, src, n, kind)) return fail(cudaErrorInvalidValue);
  // A copy from or to pageable memory synchronises the stream first and returns once the host side is done
  // with; a host-to-host copy is synchronous as well.
  const bool pageable = (kind == cudaMemcpyHostToDevice && memory_kind(src, n) != Mem::Pinned) ||
                        (kind == cudaMemcpyDeviceToHost && memory_kind(dst, n) != Mem::Pinned) ||
                        kind == cudaMemcpyHostToHost;
  if (pageable) {
    fake::drain();
    std::memmove(dst, src, n);
    return cudaSuccess;
  }
  fake::enqueue(0.1, [dst, src, n] { std::memmove(dst, src, n); });
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  fake::valid_stream(nullptr, "cudaMemcpy");
  if (n == 0) return cudaSuccess;
  if (!fake::check_copy("cudaMemcpy", dst, src, n, kind)) return fail(cudaErrorInvalidValue);
  fake::drain();
  std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpyPeer(void* dst, int dst_device, const void* src, int src_device, size_t n) {
  if (dst_device != 0 || src_device != 0) return fail(cudaErrorInvalidDevice);
  return cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice);
}
cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t n,
                                cudaStream_t stream) {
  if (dst_device != 0 || src_device != 0) return fail(cudaErrorInvalidDevice);
  return cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream);
}
// From the documentation: copies `height` rows of `width` bytes; row i starts at dst + i * dpitch and
// src + i * spitch. Each pitch must be at least `width`; every row must lie in memory of the kinds `kind`
// names. Device-to-device copies are asynchronous.
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::valid_stream(stream, "cudaMemcpy2DAsync")) return fail(cudaErrorInvalidResourceHandle);
  if (width == 0 || height == 0) return cudaSuccess;
  if (dpitch < width || spitch < width) {
    report("cudaMemcpy2DAsync: pitch " + std::to_string(std::min(dpitch, spitch)) + " below width " +
           std::to_string(width));
    return fail(cudaErrorInvalidPitchValue);
  }
  if (kind != cudaMemcpyDeviceToDevice) {
    report("cudaMemcpy2DAsync: only device-to-device copies are emulated");
    return fail(cudaErrorInvalidValue);
  }
  // The whole extent (first row start to last row end) of each side lies in one device allocation.
  const size_t dst_extent = (height - 1) * dpitch + width, src_extent = (height - 1) * spitch + width;
  if (memory_kind(dst, dst_extent) != Mem::Device || memory_kind(src, src_extent) != Mem::Device) {
    report("cudaMemcpy2DAsync(" + std::to_string(height) + " rows of " + std::to_string(width) +
           " bytes): dst or src extent is not (entirely) device memory");
    return fail(cudaErrorInvalidValue);
  }
  fake::enqueue(0.1, [=] {
    for (size_t row = 0; row < height; ++row)
      std::memmove(static_cast<char*>(dst) + row * dpitch, static_cast<const char*>(src) + row * spitch, width);
  });
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::valid_stream(stream, "cudaMemsetAsync")) return fail(cudaErrorInvalidResourceHandle);
  if (n == 0) return cudaSuccess;
  if (memory_kind(dst, n) != Mem::Device) {
    report("cudaMemsetAsync of " + std::to_string(n) + " bytes: not (entirely) device memory");
    return fail(cudaErrorInvalidValue);
  }
  fake::enqueue(0.1, [dst, value, n] { std::memset(dst, value, n); });
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  fake::drain();
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::valid_stream(stream, "cudaStreamSynchronize")) return fail(cudaErrorInvalidResourceHandle);
  fake::drain();
  return cudaSuccess;
}
// Streams are opaque handles; their work goes to the one queue.
struct CUstream_st {
  unsigned flags;
};
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (stream == nullptr || (flags != cudaStreamDefault && flags != cudaStreamNonBlocking))
    return fail(cudaErrorInvalidValue);
  *stream = new CUstream_st{flags};
  fake::created_streams.push_back(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  auto it = std::find(fake::created_streams.begin(), fake::created_streams.end(), stream);
  if (it == fake::created_streams.end()) {
    report("cudaStreamDestroy of an unknown stream");
    return fail(cudaErrorInvalidResourceHandle);
  }
  fake::drain();
  fake::created_streams.erase(it);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (event == nullptr || flags > 0x7) return fail(cudaErrorInvalidValue);
  *event = new CUevent_st;
  (*event)->flags = flags;
  fake::live_events.push_back(*event);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::live_event(event)) {
    report("cudaEventDestroy of an unknown or destroyed event");
    return fail(cudaErrorInvalidResourceHandle);
  }
  fake::live_events.erase(std::find(fake::live_events.begin(), fake::live_events.end(), event));
  // Destroying an event whose record is pending is legal: its resources go once it completes.
  if (event->recorded && event->pending_seq > fake::completed)
    fake::enqueue(0, [event] { delete event; });
  else
    delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::live_event(event)) {
    report("cudaEventRecord of an unknown or destroyed event");
    return fail(cudaErrorInvalidResourceHandle);
  }
  if (!fake::valid_stream(stream, "cudaEventRecord")) return fail(cudaErrorInvalidResourceHandle);
  event->recorded = true;
  event->pending_seq = fake::enqueued + 1;
  fake::enqueue(0, [event] { event->time = fake::virtual_clock; });
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::live_event(event)) {
    report("cudaEventQuery of an unknown or destroyed event");
    return fail(cudaErrorInvalidResourceHandle);
  }
  if (!event->recorded || event->pending_seq <= fake::completed) return cudaSuccess;
  return fail(cudaErrorNotReady);  // the real runtime sets the last error here too
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (!fake::live_event(event)) {
    report("cudaEventSynchronize of an unknown or destroyed event");
    return fail(cudaErrorInvalidResourceHandle);
  }
  if (event->recorded) fake::drain_until(event->pending_seq);
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  std::lock_guard<std::recursive_mutex> lock(fake::mu);
  if (ms == nullptr) return fail(cudaErrorInvalidValue);
  if (!fake::live_event(start) || !fake::live_event(end)) return fail(cudaErrorInvalidResourceHandle);
  if ((start->flags | end->flags) & cudaEventDisableTiming) return fail(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return fail(cudaErrorInvalidResourceHandle);
  if (start->pending_seq > fake::completed || end->pending_seq > fake::completed)
    return fail(cudaErrorNotReady);
  *ms = static_cast<float>((end->time - start->time) * 0.01);  // one unit of the virtual clock is 10 us
  return cudaSuccess;
}

cudaError_t cudaPeekAtLastError() { return fake::last_error; }
cudaError_t cudaGetLastError() {
  const cudaError_t e = fake::last_error;
  fake::last_error = cudaSuccess;
  return e;
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    default: return "unknown error (fake CUDA runtime)";
  }
}
