#include "tools/common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace dismax {

bool Progress::is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, int64_t total, int64_t every)
    : label_(std::move(label)),
      total_(total),
      every_(every > 0 ? every : std::max<int64_t>(1, total / 10)),
      start_(std::chrono::steady_clock::now()),
      tty_(is_terminal()) {}

std::string format_duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

void Progress::update(int64_t done, const std::string& status, int64_t items) {
  items_ += items;
  if (!tty_ && done % every_ != 0 && done != total_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? items_ / elapsed : 0.0;
  const double eta = done > 0 ? elapsed * (total_ - done) / done : 0.0;
  if (tty_) {
    const int width = 24;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
    std::fprintf(stderr, "\r%s [%s%s] %ld/%ld %s %.0f img/s ETA %s\033[K", label_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), static_cast<long>(done),
                 static_cast<long>(total_), status.c_str(), rate, format_duration(eta).c_str());
  } else {
    std::fprintf(stderr, "%s %ld/%ld %s %.0f img/s ETA %s\n", label_.c_str(), static_cast<long>(done),
                 static_cast<long>(total_), status.c_str(), rate, format_duration(eta).c_str());
  }
  std::fflush(stderr);
}

void Progress::finish(const std::string& status) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%s%s done in %s, %.0f img/s, %s\n", tty_ ? "\r\033[K" : "", label_.c_str(),
               format_duration(elapsed).c_str(), elapsed > 0 ? items_ / elapsed : 0.0, status.c_str());
  std::fflush(stderr);
}

}  // namespace dismax
