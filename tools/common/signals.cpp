#include "tools/common/signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace dismax {

namespace {
std::atomic<int> requested{0};

void on_signal(int sig) {
  if (requested.exchange(sig) != 0) _exit(128 + sig);  // second signal: give up immediately
  const char msg[] = "\nstop requested: finishing the current batch and writing a resumable checkpoint\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return requested.load() != 0; }
int stop_signal() { return requested.load(); }

}  // namespace dismax
