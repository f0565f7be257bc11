#include "metrics/calibration.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/parallel.h"

namespace dismax {

std::string calibration_objective_name(CalibrationObjective objective) {
  return objective == CalibrationObjective::ECE ? "ECE" : "NLL";
}

CalibrationObjective parse_calibration_objective(const std::string& name) {
  std::string upper = name;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (upper == "ECE") return CalibrationObjective::ECE;
  if (upper == "NLL") return CalibrationObjective::NLL;
  DISMAX_FAIL("calibration: unknown objective '", name, "' (known: ECE, NLL)");
}

double calibration_objective(const Predictions& p, double tau, const CalibrationOptions& options) {
  return options.objective == CalibrationObjective::ECE ? expected_calibration_error(p, tau, options.bins)
                                                        : negative_log_likelihood(p, tau);
}

namespace {

void check_options(const CalibrationOptions& o) {
  DISMAX_CHECK(o.lower > 0 && std::isfinite(o.upper) && o.lower < o.upper, "calibration: bounds [", o.lower,
               ", ", o.upper, "] must satisfy 0 < lower < upper < inf");
  DISMAX_CHECK(o.bins >= 1, "calibration: bins must be at least 1, got ", o.bins);
}

// A point of the search in u = log tau; the bounds map back to exactly lower and upper.
struct Candidate {
  double u = 0;
  double value = 0;
};

bool better(const Candidate& a, const Candidate& b) {
  return a.value < b.value || (a.value == b.value && std::abs(a.u) < std::abs(b.u));
}

CalibrationResult minimise_ece(const Predictions& p, const CalibrationOptions& o) {
  const double a = std::log(o.lower), b = std::log(o.upper);
  const auto tau_of = [&](double u) { return u <= a ? o.lower : u >= b ? o.upper : std::exp(u); };
  CalibrationResult r;
  Candidate winner{std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()};
  // Evaluates the points us (increasing), keeps the best so far in winner and returns the bracket from
  // `reach` points below to `reach` points above the winner.
  const auto scan = [&](const std::vector<double>& us, size_t reach) {
    size_t best = 0;
    std::vector<Candidate> points;
    for (double u : us) {
      points.push_back(u == winner.u ? winner : Candidate{u, calibration_objective(p, tau_of(u), o)});
      r.evaluations += u == winner.u ? 0 : 1;
      if (better(points.back(), points[best])) best = points.size() - 1;
    }
    if (better(points[best], winner)) winner = points[best];
    for (size_t i = 0; i < points.size(); ++i)  // the point nearest the winner (it may lie between two)
      if (std::abs(points[i].u - winner.u) < std::abs(points[best].u - winner.u)) best = i;
    return std::make_pair(points[best >= reach ? best - reach : 0].u,
                          points[std::min(best + reach, us.size() - 1)].u);
  };
  const auto linspace = [](double lo, double hi, int count) {
    std::vector<double> us;
    for (int j = 0; j < count; ++j)
      us.push_back(j == 0 ? lo : j == count - 1 ? hi : lo + (hi - lo) * j / (count - 1));
    return us;
  };

  constexpr double kPerDecade = 24;
  const int intervals = std::max(2, static_cast<int>(std::ceil((b - a) / std::log(10.0) * kPerDecade)));
  std::vector<double> grid;
  for (const double u : linspace(a, b, intervals + 1))
    grid.push_back(std::abs(u) < 1e-12 ? 0.0 : u);  // a grid point at tau = 1 up to rounding is tau = 1
  if (a < 0 && b > 0) grid.push_back(0.0);          // tau = 1, where the original starts
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());

  auto [lo, hi] = scan(grid, 1);
  std::tie(lo, hi) = scan(linspace(lo, hi, 401), 1);
  for (int level = 0; level < 60 && hi - lo > 1e-9; ++level) std::tie(lo, hi) = scan(linspace(lo, hi, 17), 2);
  r.temperature = tau_of(winner.u);
  r.after = winner.value;
  return r;
}

// d NLL / d beta at beta = 1 / tau: mean_i (sum_j p_ij z_ij - z_iy), non-decreasing in beta.
double nll_slope(const Predictions& p, double beta) {
  const int64_t n = p.size(), c = p.num_classes;
  std::vector<double> per_sample(n);
  parallel_for(0, n, std::max<int64_t>(1, 32768 / c), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double* z = p.logits.data() + i * c;
      const double top = *std::max_element(z, z + c);
      double sum = 0, weighted = 0;
      for (int64_t j = 0; j < c; ++j) {
        const double e = std::exp(beta * (z[j] - top));
        sum += e;
        weighted += e * z[j];
      }
      per_sample[i] = weighted / sum - z[p.labels[i]];
    }
  });
  double total = 0;
  for (double g : per_sample) total += g;
  return total / static_cast<double>(n);
}

CalibrationResult minimise_nll(const Predictions& p, const CalibrationOptions& o) {
  CalibrationResult r;
  // v = log beta = -log tau; the slope's sign is the same in v as in beta.
  double lo = -std::log(o.upper), hi = -std::log(o.lower);
  r.evaluations += 2;
  if (nll_slope(p, 1.0 / o.upper) >= 0) {
    r.temperature = o.upper;
  } else if (nll_slope(p, 1.0 / o.lower) <= 0) {
    r.temperature = o.lower;
  } else {
    for (int it = 0; it < 200; ++it) {
      const double mid = 0.5 * (lo + hi);
      if (mid <= lo || mid >= hi) break;
      ++r.evaluations;
      (nll_slope(p, std::exp(mid)) < 0 ? lo : hi) = mid;
    }
    r.temperature = std::min(o.upper, std::max(o.lower, std::exp(-0.5 * (lo + hi))));
  }
  r.after = negative_log_likelihood(p, r.temperature);
  return r;
}

}  // namespace

CalibrationResult calibrate_temperature(const Predictions& p, const CalibrationOptions& options) {
  check_options(options);
  CalibrationResult r =
      options.objective == CalibrationObjective::ECE ? minimise_ece(p, options) : minimise_nll(p, options);
  r.before = calibration_objective(p, 1.0, options);
  r.at_bound = !(options.lower < r.temperature && r.temperature < options.upper);
  return r;
}

CalibrationResult calibrate_temperature(const Tensor& logits, const Tensor& labels,
                                        const CalibrationOptions& options) {
  return calibrate_temperature(make_predictions(logits, labels), options);
}

}  // namespace dismax
