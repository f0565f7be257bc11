// Progress reporting for the command-line tools: a live single-line bar (epoch, batch, loss, accuracy,
// images/s, ETA) when stderr is a terminal, plain log lines every `every` steps otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dismax {

class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t every = 0);
  // Reports step `done` (1-based) with a free-form status ("loss 0.512 acc 81.2%") and items processed.
  void update(int64_t done, const std::string& status, int64_t items);
  void finish(const std::string& status);
  static bool is_terminal();

 private:
  std::string label_;
  int64_t total_, every_, items_ = 0;
  std::chrono::steady_clock::time_point start_;
  bool tty_;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

}  // namespace dismax
