// The training loop of dismax-train (SPEC §5): SGD epochs over the training loader, per-epoch validation,
// statistics in results_raw.csv / history.jsonl, the best checkpoint (strictly higher validation accuracy),
// a last checkpoint with a resumable state after every epoch and on SIGINT/SIGTERM, and a clear stop on a
// non-finite loss.
#pragma once

#include <string>

#include "tools/train/train_config.h"

namespace dismax {

struct TrainOutcome {
  bool interrupted = false;
  int64_t epochs_done = 0;
  double best_valid_accuracy = 0;  // percent
  int64_t best_epoch = 0;
};

// Trains as `config` says, writing into config.out. With `resume`, continues from config.out's last
// checkpoint and state (the saved configuration is used; device, threads and workers may differ).
TrainOutcome train(TrainConfig config, bool resume);

}  // namespace dismax
