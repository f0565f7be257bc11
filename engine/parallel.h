// Host threading: the number of worker threads (DISMAX_NUM_THREADS, or set_num_threads, default all
// cores) and a parallel loop over OpenMP that runs serially for small ranges.
#pragma once

#include <algorithm>
#include <cstdint>

namespace dismax {

int num_threads();
void set_num_threads(int n);  // n >= 1
bool in_parallel_region();

// Calls fn(begin, end) on disjoint chunks of [begin, end); serial if the range is below `grain`
// elements or we are already inside a parallel region.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn);

namespace detail {
int omp_threads_for(int64_t work, int64_t grain);
}

}  // namespace dismax

#include <omp.h>

namespace dismax {
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int threads = detail::omp_threads_for(n, grain);
  if (threads <= 1) {
    fn(begin, end);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = begin + t * chunk, e = std::min(end, b + chunk);
    if (b < e) fn(b, e);
  }
}
}  // namespace dismax
