// Precomputed OOD thresholds (SPEC §1.7): the 25 percentiles of in-distribution scores that the DisMax
// head stores, so a deployed model can flag a sample as OOD at a chosen true-positive rate. Computed over
// a whole validation pass; the original used windows of 32 batches that straddle epochs, and its row 0
// (train) stayed uninitialised: here both rows start as NaN and row 1 holds the last full validation pass.
#pragma once

#include <vector>

#include "engine/tensor.h"
#include "losses/heads.h"

namespace dismax {

// 0, 0.1, ..., 0.5, 1, 2, 3, 4, 5, 10, 15, ..., 50, 60, 70, 80, 90, 100
const std::vector<double>& threshold_percentiles();
// NumPy's default percentile: linear interpolation at rank (n - 1) * p / 100 of the sorted values.
std::vector<double> percentiles(std::vector<double> values, const std::vector<double>& ps);

class ThresholdAccumulator {
 public:
  void add(const Tensor& scores);  // (B) scores of one batch
  bool empty() const { return values_.empty(); }
  std::vector<double> thresholds() const;  // the 25 percentiles
  void store(DisMaxHead& head, int row) const;  // row 0 train, 1 validation
  void clear() { values_.clear(); }

 private:
  std::vector<double> values_;
};

}  // namespace dismax
