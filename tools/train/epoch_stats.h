// The per-epoch statistics of SPEC §5.4 for one set (TRAIN or VALID): loss weighted by batch size, top-1
// accuracy (%), the head's distance scale, and mean / population std of the target logits, the
// non-target logits, the max softmax probability and the entropy normalised by ln C.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace dismax {

// Count, mean and population variance in double, mergeable and serialisable (for mid-epoch resume).
struct Moments {
  double count = 0, sum = 0, sumsq = 0;
  void add(double v) {
    count += 1;
    sum += v;
    sumsq += v * v;
  }
  double mean() const;
  double std() const;  // population std
};

struct EpochStats {
  double loss_sum = 0;
  int64_t seen = 0, correct = 0;
  double scale = 1.0;
  Moments intra, inter, max_probs, entropies;

  // Adds a batch: `loss` is its mean loss, logits (B, C) the head output, targets (B) int64.
  void add_batch(double loss, const Tensor& logits, const Tensor& targets);
  double loss() const { return seen ? loss_sum / seen : 0.0; }
  double accuracy() const { return seen ? 100.0 * correct / seen : 0.0; }  // percent, as the original

  nlohmann::json to_json() const;  // the 11 metrics, named as in results_raw.csv
  nlohmann::json state() const;    // raw accumulators (resume)
  static EpochStats from_state(const nlohmann::json& j);
};

// The 11 metric names of results_raw.csv in order: LOSS, ACC1, SCALE, INTRA_LOGITS MEAN, ...
const std::vector<std::string>& raw_metric_names();
std::vector<double> raw_metric_values(const EpochStats& s);

}  // namespace dismax
