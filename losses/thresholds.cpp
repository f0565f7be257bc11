#include "losses/thresholds.h"

#include <algorithm>
#include <cmath>

#include "engine/grad_mode.h"

namespace dismax {

const std::vector<double>& threshold_percentiles() {
  static const std::vector<double> p = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 1, 2, 3, 4, 5, 10, 15,
                                        20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100};
  return p;
}

std::vector<double> percentiles(std::vector<double> values, const std::vector<double>& ps) {
  DISMAX_CHECK(!values.empty(), "percentiles: no values");
  std::sort(values.begin(), values.end());
  std::vector<double> out;
  const double n = static_cast<double>(values.size());
  for (double p : ps) {
    DISMAX_CHECK(p >= 0 && p <= 100, "percentiles: ", p, " is outside [0, 100]");
    const double rank = (n - 1) * p / 100.0;
    const size_t lo = static_cast<size_t>(std::floor(rank));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    const double frac = rank - lo;
    out.push_back(values[lo] + (values[hi] - values[lo]) * frac);
  }
  return out;
}

void ThresholdAccumulator::add(const Tensor& scores) {
  for (double v : scores.to_vector<double>()) values_.push_back(v);
}

std::vector<double> ThresholdAccumulator::thresholds() const { return percentiles(values_, threshold_percentiles()); }

void ThresholdAccumulator::store(DisMaxHead& head, int row) const {
  DISMAX_CHECK(row == 0 || row == 1, "ThresholdAccumulator::store: row must be 0 or 1");
  const auto t = thresholds();
  NoGradGuard guard;
  head.precomputed_thresholds.select(0, row).copy_(Tensor::from_vector(t, {25}));
}

}  // namespace dismax
