// Host threading: the number of worker threads (DISMAX_NUM_THREADS, or set_num_threads, default all
// cores) and parallel loops on a pool of that many threads, the calling thread included.
//
// A loop is cut into more tasks than threads, and threads claim tasks as they go; the caller waits only
// for tasks some thread has started. So a thread that the OS deschedules (another process busy on its
// core) simply takes fewer tasks instead of stalling every loop until it runs again. Idle pool threads
// spin briefly for the next loop, then sleep.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace dismax {

int num_threads();
void set_num_threads(int n);  // n >= 1; not while a parallel loop runs
bool in_parallel_region();    // inside a parallel task (or an OpenMP parallel region)

// A non-owning reference to a callable void(int64_t); valid while the callable lives.
class TaskRef {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TaskRef>>>
  TaskRef(const F& f)  // NOLINT(google-explicit-constructor): passed as a lambda at every call
      : obj_(&f), call_([](const void* o, int64_t i) { (*static_cast<const F*>(o))(i); }) {}
  void operator()(int64_t i) const { call_(obj_, i); }

 private:
  const void* obj_;
  void (*call_)(const void*, int64_t);
};

// Runs task(i) for every i in [0, count) on up to max_threads threads. Runs serially in the caller when
// count or max_threads is 1, inside another parallel task, or while another thread's loop holds the
// pool. The first exception a task throws is rethrown here once the started tasks have finished.
void parallel_tasks(int64_t count, int max_threads, TaskRef task);

// Calls fn(begin, end) on disjoint chunks of [begin, end); serial if the range is below `grain`
// elements or we are already inside a parallel region. Chunks hold at least `grain` elements.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn);

namespace detail {
int threads_for(int64_t work, int64_t grain);
int64_t tasks_for(int64_t work, int64_t grain, int threads);
}  // namespace detail

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int threads = detail::threads_for(n, grain);
  if (threads <= 1) {
    fn(begin, end);
    return;
  }
  const int64_t tasks = detail::tasks_for(n, grain, threads);
  parallel_tasks(tasks, threads, [&](int64_t i) { fn(begin + i * n / tasks, begin + (i + 1) * n / tasks); });
}

}  // namespace dismax
