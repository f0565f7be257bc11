// SIGINT / SIGTERM turn into a flag the training loop polls, so it can write a resumable checkpoint and
// exit cleanly instead of dying mid-write. A second signal exits at once.
#pragma once

namespace dismax {

void install_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal that asked to stop (0 if none)

}  // namespace dismax
