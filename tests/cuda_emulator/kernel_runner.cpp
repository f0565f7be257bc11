// Runs a kernel grid on the host: blocks one after another, each block's threads as fibers (own stacks,
// switched by a small x86-64 context switch) so that __syncthreads and warp shuffles are real barriers.
// Detects deadlocks, shuffles with lanes missing or at different shuffles, threads of a block waiting at
// different __syncthreads, bad launch configurations and pointer arguments that are not device memory.
// EMU_REVERSE=1 schedules the threads of a block in reverse order, EMU_REVERSE_BLOCKS=1 the blocks.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fake_device.h"

#if !defined(__x86_64__)
#error "the CUDA emulator's fibers switch x86-64 registers"
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define EMU_UNPOISON(p, n) __asan_unpoison_memory_region(p, n)
#else
#define EMU_UNPOISON(p, n) ((void)0)
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

// emu_switch(save_sp, to_sp): saves the callee-saved registers and the SSE / x87 control words on the
// current stack, stores the stack pointer in *save_sp, and resumes the context saved at to_sp.
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size emu_switch,.-emu_switch
.globl emu_fiber_start
.type emu_fiber_start,@function
emu_fiber_start:
  call emu_fiber_main
  ud2
.size emu_fiber_start,.-emu_fiber_start
)");
extern "C" void emu_switch(void** save_sp, void* to_sp);
extern "C" void emu_fiber_start();

namespace emu {
namespace {

enum class State { Ready, AtBarrier, AtShuffle, Exited };
struct Fiber {
  void* sp;
  State state;
  uint3 tid;
  int linear;          // index in the block; lane = linear % 32
  long long shuffles;  // shuffle phases passed, equal across a warp at each release
  long long barriers;  // __syncthreads passed, equal across a block at each release
};

constexpr size_t kStackBytes = 128 * 1024;
std::vector<Fiber> fibers;
std::vector<char*> stacks;
void* scheduler_sp = nullptr;
int current = -1;
int block_threads = 0;
const std::function<void()>* thread_body = nullptr;
std::vector<unsigned char> shuffle_buffer;  // kMaxShuffleBytes per thread
bool in_kernel = false;
const char* kernel_name = "";
long long launches = 0;
bool warned_exited_at_barrier = false;
const bool reverse_threads = fake::env_flag("EMU_REVERSE");
const bool reverse_blocks = fake::env_flag("EMU_REVERSE_BLOCKS");

void yield(State s) {
  const int me = current;
  fibers[me].state = s;
  emu_switch(&fibers[me].sp, scheduler_sp);
  current = me;
  threadIdx = fibers[me].tid;
}

void start_block(dim3 block) {
  for (int i = 0; i < block_threads; ++i) {
    Fiber& f = fibers[i];
    EMU_UNPOISON(stacks[i], kStackBytes);  // frames of the previous block were never unwound
    // Initial frame, popped by emu_switch: [mxcsr | x87 control word], r15 r14 r13 r12 rbx rbp, then the
    // return address emu_fiber_start; the stack is 16-byte aligned after the return.
    const uintptr_t top = (reinterpret_cast<uintptr_t>(stacks[i]) + kStackBytes) & ~uintptr_t{15};
    uint64_t* sp = reinterpret_cast<uint64_t*>(top - 16);
    *--sp = reinterpret_cast<uint64_t>(&emu_fiber_start);
    for (int r = 0; r < 6; ++r) *--sp = 0;
    *--sp = 0x1F80ull | (0x037Full << 32);  // the default MXCSR and x87 control word
    f.sp = sp;
    f.state = State::Ready;
    f.linear = i;
    f.shuffles = 0;
    f.barriers = 0;
    f.tid = {static_cast<unsigned>(i) % block.x, static_cast<unsigned>(i) / block.x % block.y,
             static_cast<unsigned>(i) / (block.x * block.y)};
  }
}

void run_ready_threads() {
  for (int k = 0; k < block_threads; ++k) {
    const int i = reverse_threads ? block_threads - 1 - k : k;
    if (fibers[i].state != State::Ready) continue;
    current = i;
    threadIdx = fibers[i].tid;
    emu_switch(&scheduler_sp, fibers[i].sp);
  }
}

int count(State s) {
  return static_cast<int>(std::count_if(fibers.begin(), fibers.begin() + block_threads,
                                        [s](const Fiber& f) { return f.state == s; }));
}

// Releases every warp whose lanes all wait at a shuffle; false if none was.
bool release_shuffles() {
  bool released = false;
  for (int lo = 0; lo < block_threads; lo += 32) {
    const int hi = std::min(block_threads, lo + 32);
    int waiting = 0, exited = 0;
    for (int i = lo; i < hi; ++i) {
      waiting += fibers[i].state == State::AtShuffle;
      exited += fibers[i].state == State::Exited;
    }
    if (waiting == 0) continue;
    if (exited > 0) fail("shuffle while lanes of the warp have exited");
    if (waiting < hi - lo) continue;
    for (int i = lo; i < hi; ++i)
      if (fibers[i].shuffles != fibers[lo].shuffles) fail("lanes of a warp at different shuffles");
    for (int i = lo; i < hi; ++i) fibers[i].state = State::Ready;
    released = true;
  }
  return released;
}

// Releases the block's barrier once every thread waits at it or has exited; false if it cannot.
bool release_barrier() {
  const int waiting = count(State::AtBarrier), exited = count(State::Exited);
  if (waiting == 0 || waiting + exited != block_threads) return false;
  if (exited > 0 && !warned_exited_at_barrier) {
    warned_exited_at_barrier = true;
    std::fprintf(stderr, "EMU WARNING: kernel %s: __syncthreads reached by %d threads while %d exited\n",
                 kernel_name, waiting, exited);
  }
  long long first = -1;
  for (int i = 0; i < block_threads; ++i) {
    Fiber& f = fibers[i];
    if (f.state != State::AtBarrier) continue;
    if (first < 0) first = f.barriers;
    if (f.barriers != first) fail("threads of a block wait at different __syncthreads");
    f.state = State::Ready;
  }
  return true;
}

void run_block() {
  for (;;) {
    run_ready_threads();
    if (count(State::Exited) == block_threads) return;
    if (release_shuffles() || release_barrier()) continue;
    fail("deadlock: " + std::to_string(count(State::AtBarrier)) + " threads at __syncthreads, " +
         std::to_string(count(State::AtShuffle)) + " at shuffles, " + std::to_string(count(State::Exited)) +
         " exited");
  }
}

void run_grid(const char* name, dim3 grid, dim3 block, const std::function<void()>& thread) {
  if (in_kernel) fail("nested launch");
  in_kernel = true;
  kernel_name = name;
  gridDim = grid;
  blockDim = block;
  block_threads = static_cast<int>(block.x * block.y * block.z);
  thread_body = &thread;
  if (fibers.size() < static_cast<size_t>(block_threads)) fibers.resize(block_threads);
  while (stacks.size() < static_cast<size_t>(block_threads))
    stacks.push_back(static_cast<char*>(std::aligned_alloc(64, kStackBytes)));
  shuffle_buffer.assign(static_cast<size_t>((block_threads + 31) / 32 * 32) * kMaxShuffleBytes, 0);
  const unsigned long long blocks = static_cast<unsigned long long>(grid.x) * grid.y * grid.z;
  for (unsigned long long k = 0; k < blocks; ++k) {
    const unsigned long long b = reverse_blocks ? blocks - 1 - k : k;
    blockIdx = {static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                static_cast<unsigned>(b / (static_cast<unsigned long long>(grid.x) * grid.y))};
    start_block(block);
    run_block();
  }
  in_kernel = false;
  kernel_name = "";
}

struct ExitSummary {
  ~ExitSummary() { std::fprintf(stderr, "EMU: %lld kernel launches\n", launches); }
} exit_summary;

}  // namespace
}  // namespace emu

extern "C" void emu_fiber_main() {
  using namespace emu;
  const int me = current;
  threadIdx = fibers[me].tid;
  (*thread_body)();
  fibers[me].state = State::Exited;
  emu_switch(&fibers[me].sp, scheduler_sp);
  __builtin_trap();  // an exited fiber is never resumed
}

namespace emu {

void fail(const std::string& what) {
  std::fprintf(
      stderr,
      "EMU FAIL in kernel %s: %s (block %u,%u,%u thread %u,%u,%u, grid %u,%u,%u, blockDim %u,%u,%u)\n",
      kernel_name, what.c_str(), blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z,
      gridDim.x, gridDim.y, gridDim.z, blockDim.x, blockDim.y, blockDim.z);
  std::fflush(stderr);
  std::abort();
}

void syncthreads() {
  if (!in_kernel) fail("__syncthreads outside a kernel");
  ++fibers[current].barriers;
  yield(State::AtBarrier);
}

int lane() { return fibers[current].linear % 32; }

void check_full_warp(unsigned mask, const char* what) {
  if (mask != 0xffffffffu) fail(std::string(what) + " with a partial mask (not emulated)");
  if (block_threads - fibers[current].linear / 32 * 32 < 32)
    fail(std::string(what) + " with a full mask in a partial warp");
}

void shuffle_publish(const void* v, size_t n) {
  std::memcpy(&shuffle_buffer[static_cast<size_t>(fibers[current].linear) * kMaxShuffleBytes], v, n);
  ++fibers[current].shuffles;
  yield(State::AtShuffle);
}
void shuffle_read(int src_lane, void* out, size_t n) {
  const int src = fibers[current].linear / 32 * 32 + src_lane;
  std::memcpy(out, &shuffle_buffer[static_cast<size_t>(src) * kMaxShuffleBytes], n);
}
void shuffle_done() {
  ++fibers[current].shuffles;
  yield(State::AtShuffle);
}

bool check_launch(const char* name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream) {
  ++launches;
  // The limits of every GPU since compute capability 3.0.
  const unsigned long long threads = static_cast<unsigned long long>(block.x) * block.y * block.z;
  std::string bad;
  if (threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64) bad = "block too large";
  if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) bad = "grid too large";
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0) bad = "empty launch configuration";
  if (smem > 48 * 1024) bad = "dynamic shared memory > 48 KiB without opt-in";
  if (!fake::valid_stream(stream, (std::string("launch of ") + name).c_str())) bad = "invalid stream";
  if (bad.empty()) return true;
  fake::report(std::string("launch of ") + name + " failed: " + bad + " (grid " + std::to_string(grid.x) +
               "," + std::to_string(grid.y) + "," + std::to_string(grid.z) + " block " +
               std::to_string(block.x) + "," + std::to_string(block.y) + "," + std::to_string(block.z) + ")");
  fake::set_last_error(cudaErrorInvalidConfiguration);
  return false;
}

void check_pointer_arg(const char* name, int index, const void* p) {
  if (p == nullptr) return;
  const fake::Mem kind = fake::memory_kind(p);
  if (kind != fake::Mem::Device)
    fake::report(std::string("launch of ") + name + ": pointer argument " + std::to_string(index) +
                 " is not device memory (" + (kind == fake::Mem::Pinned ? "pinned host" : "host") + ")");
}

void enqueue_grid(const char* name, dim3 grid, dim3 block, std::function<void()> thread) {
  fake::enqueue(1.0,
                [name, grid, block, thread = std::move(thread)] { run_grid(name, grid, block, thread); });
}

}  // namespace emu
