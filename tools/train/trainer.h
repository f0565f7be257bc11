// The training loop of dismax-train (SPEC §5): SGD epochs over the training loader, per-epoch validation,
// statistics in results_raw.csv / history.jsonl, the best checkpoint (strictly higher validation accuracy),
// a last checkpoint with its resumable state in the same file after every epoch and on SIGINT/SIGTERM, and
// a clear stop on a non-finite training or validation loss or non-finite weights (never saved).
#pragma once

#include <string>

#include "experiment/train_config.h"

namespace dismax {

struct TrainOutcome {
  bool interrupted = false;
  int64_t epochs_done = 0;
  double best_valid_accuracy = 0;  // percent
  int64_t best_epoch = 0;
};

// Trains as `config` says, writing into config.out, which it locks for the duration (a second run on it
// fails at once naming the holder). With `resume`, continues from config.out's last checkpoint (the saved
// configuration is used; device, threads and workers may differ); `extend_epochs` > 0 there sets a new
// total number of epochs (at least the epochs already done). Resuming a finished run without it fails.
TrainOutcome train(TrainConfig config, bool resume, int64_t extend_epochs = 0);

}  // namespace dismax
