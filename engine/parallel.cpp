// The thread pool behind parallel_tasks (see parallel.h).
//
// Protocol: one word, state = (generation << 32) | next task index, announces a loop and hands out its
// tasks: a thread claims task i by a compare-and-swap from (g, i) to (g, i + 1), so a claim made with a
// stale generation fails. A loop's description lives in slots[g % 2] and is rewritten only for loop g + 2,
// which starts after every task of loop g has finished; a thread that read the slot of loop g and then
// claims successfully therefore ran loop g's own task. The caller returns when all tasks are done, never
// waiting for a thread that has not started one.
#include "engine/parallel.h"

#include <omp.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "engine/error.h"

namespace dismax {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#endif
}

// How long an idle pool thread polls for the next loop before it sleeps (pause instructions, 10-40 ns
// each, so 20-80 us): it bridges most of the serial work between the loops of a training step, and idle
// threads do not keep a core busy. Longer or shorter made no measurable difference to a training step.
constexpr int kIdleSpins = 2000;
// Tasks per thread of a parallel_for: enough to even out uneven threads, few enough to keep chunks large.
constexpr int64_t kTasksPerThread = 4;

thread_local bool t_in_task = false;

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  int workers() const { return int(threads_.size()); }

  // Runs the loop; false (nothing run) when another thread's loop holds the pool.
  bool try_run(int64_t count, int max_threads, TaskRef task) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    const uint64_t gen = ++generation_ & 0xFFFFFFFFu;
    Slot& slot = slots_[gen & 1];
    slot.task.store(&task, std::memory_order_relaxed);
    slot.count.store(count, std::memory_order_relaxed);
    slot.done.store(0, std::memory_order_relaxed);
    slot.joined.store(0, std::memory_order_relaxed);
    slot.max_helpers.store(max_threads - 1, std::memory_order_relaxed);
    slot.error = nullptr;
    slot.failed.store(false, std::memory_order_relaxed);
    state_.store(gen << 32, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      cv_.notify_all();
    }
    run_tasks(gen);
    wait_done(slot, count);
    std::exception_ptr error = slot.failed.load(std::memory_order_acquire) ? slot.error : nullptr;
    busy_.store(false, std::memory_order_release);
    if (error) std::rethrow_exception(error);
    return true;
  }

 private:
  struct Slot {
    std::atomic<const TaskRef*> task{nullptr};
    std::atomic<int64_t> count{0};
    std::atomic<int64_t> done{0};
    std::atomic<int> joined{0};       // pool threads that came to help
    std::atomic<int> max_helpers{0};  // how many may
    std::atomic<bool> failed{false};
    std::exception_ptr error;  // written once, by the thread that set `failed`
  };

  // Waits for the tasks that helpers are still running. Spinning beats sleeping here even on a busy
  // machine (measured): a preempted helper is not moved to our core while we are idle for a moment.
  static void wait_done(const Slot& slot, int64_t count) {
    for (int spins = 0; slot.done.load(std::memory_order_acquire) < count; ++spins) {
      if (spins < 64) {
        cpu_relax();
      } else {
        std::this_thread::yield();  // in case the helper shares our core
      }
    }
  }

  // Claims and runs tasks of loop `gen` until none is left (or a newer loop has started).
  void run_tasks(uint64_t gen) {
    Slot& slot = slots_[gen & 1];
    const bool was_in_task = t_in_task;
    t_in_task = true;
    for (;;) {
      uint64_t s = state_.load(std::memory_order_acquire);
      if ((s >> 32) != gen) break;
      const int64_t i = int64_t(s & 0xFFFFFFFFu);
      const TaskRef* task = slot.task.load(std::memory_order_relaxed);
      if (i >= slot.count.load(std::memory_order_relaxed)) break;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_relaxed))
        continue;
      try {
        (*task)(i);
      } catch (...) {
        if (!slot.failed.exchange(true, std::memory_order_acq_rel)) slot.error = std::current_exception();
      }
      slot.done.fetch_add(1, std::memory_order_release);
    }
    t_in_task = was_in_task;
  }

  void worker_loop() {
    t_in_task = true;  // loops started from inside a task run serially
    uint64_t seen = 0;
    for (;;) {
      const uint64_t s = wait_for_loop(seen);
      if (stop_.load()) return;
      seen = s >> 32;
      Slot& slot = slots_[seen & 1];
      if (slot.joined.fetch_add(1, std::memory_order_relaxed) <
          slot.max_helpers.load(std::memory_order_relaxed))
        run_tasks(seen);
    }
  }

  // Returns the state once it announces a loop other than `seen` (or the pool stops).
  uint64_t wait_for_loop(uint64_t seen) {
    for (int i = 0; i < kIdleSpins; ++i) {
      const uint64_t s = state_.load(std::memory_order_acquire);
      if ((s >> 32) != seen || stop_.load(std::memory_order_relaxed)) return s;
      cpu_relax();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    uint64_t s;
    while (((s = state_.load(std::memory_order_seq_cst)) >> 32) == seen && !stop_.load()) cv_.wait(lock);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return s;
  }

  std::atomic<uint64_t> state_{0};
  Slot slots_[2];
  uint64_t generation_ = 0;  // of the last loop; written by the thread holding busy_
  std::atomic<bool> busy_{false};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

int initial_threads() {
  if (const char* env = std::getenv("DISMAX_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    DISMAX_CHECK(end != env && *end == '\0' && n >= 1 && n <= 4096, "DISMAX_NUM_THREADS='", env,
                 "' is not a positive thread count");
    omp_set_num_threads(static_cast<int>(n));
    return static_cast<int>(n);
  }
  return omp_get_max_threads();
}
int& thread_setting() {
  static int n = initial_threads();
  return n;
}

// The pool for the current thread count, started on first use. Never destroyed: tensors (and loops) may
// outlive main.
std::mutex g_pool_mutex;
Pool* g_pool = nullptr;

Pool& pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (g_pool == nullptr) g_pool = new Pool(thread_setting() - 1);
  return *g_pool;
}

}  // namespace

int num_threads() { return thread_setting(); }

void set_num_threads(int n) {
  DISMAX_CHECK(n >= 1, "set_num_threads: thread count must be >= 1, got ", n);
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  thread_setting() = n;
  omp_set_num_threads(n);
  if (g_pool != nullptr && g_pool->workers() != n - 1) {
    delete g_pool;
    g_pool = nullptr;
  }
}

bool in_parallel_region() { return t_in_task || omp_in_parallel() != 0; }

void parallel_tasks(int64_t count, int max_threads, TaskRef task) {
  if (count <= 0) return;
  max_threads = std::min(max_threads, num_threads());
  if (count == 1 || max_threads <= 1 || in_parallel_region() || count > int64_t{0xFFFFFFFF} ||
      !pool().try_run(count, max_threads, task)) {
    for (int64_t i = 0; i < count; ++i) task(i);
  }
}

namespace detail {
int threads_for(int64_t work, int64_t grain) {
  if (in_parallel_region()) return 1;
  const int64_t chunks = grain > 0 ? work / grain : work;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), chunks)));
}

int64_t tasks_for(int64_t work, int64_t grain, int threads) {
  const int64_t chunks = grain > 0 ? work / grain : work;
  return std::max<int64_t>(1, std::min<int64_t>(chunks, threads * kTasksPerThread));
}
}  // namespace detail

}  // namespace dismax
