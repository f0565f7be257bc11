#include "engine/parallel.h"

#include <omp.h>

#include <cstdlib>
#include <string>

#include "engine/error.h"

namespace dismax {

namespace {
int initial_threads() {
  if (const char* env = std::getenv("DISMAX_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    DISMAX_CHECK(end != env && *end == '\0' && n >= 1 && n <= 4096,
                 "DISMAX_NUM_THREADS='", env, "' is not a positive thread count");
    omp_set_num_threads(static_cast<int>(n));
    return static_cast<int>(n);
  }
  return omp_get_max_threads();
}
int& thread_setting() {
  static int n = initial_threads();
  return n;
}
}  // namespace

int num_threads() { return thread_setting(); }

void set_num_threads(int n) {
  DISMAX_CHECK(n >= 1, "set_num_threads: thread count must be >= 1, got ", n);
  thread_setting() = n;
  omp_set_num_threads(n);
}

bool in_parallel_region() { return omp_in_parallel() != 0; }

namespace detail {
int omp_threads_for(int64_t work, int64_t grain) {
  if (omp_in_parallel()) return 1;
  const int64_t chunks = grain > 0 ? work / grain : work;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), chunks)));
}
}  // namespace detail

}  // namespace dismax
