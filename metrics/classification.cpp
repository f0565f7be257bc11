#include "metrics/classification.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/parallel.h"

namespace dismax {

// ---------------------------------------------------------------------------------------------------------
// Classification and calibration

Predictions make_predictions(std::vector<double> logits, int64_t num_classes, std::vector<int64_t> labels) {
  DISMAX_CHECK(num_classes >= 1, "predictions: num_classes must be at least 1, got ", num_classes);
  const int64_t n = static_cast<int64_t>(labels.size());
  DISMAX_CHECK(n > 0, "predictions: no samples");
  DISMAX_CHECK(static_cast<int64_t>(logits.size()) == n * num_classes, "predictions: ", logits.size(),
               " logits do not make ", n, " rows of ", num_classes, " classes");
  for (int64_t i = 0; i < n; ++i)
    DISMAX_CHECK(labels[i] >= 0 && labels[i] < num_classes, "predictions: label ", labels[i], " of sample ",
                 i, " is outside [0, ", num_classes, ")");
  for (size_t k = 0; k < logits.size(); ++k)
    DISMAX_CHECK(std::isfinite(logits[k]), "predictions: logit (", k / num_classes, ", ", k % num_classes,
                 ") is ", logits[k]);
  return Predictions{std::move(logits), std::move(labels), num_classes};
}

Predictions make_predictions(const Tensor& logits, const Tensor& labels) {
  DISMAX_CHECK(logits.defined() && logits.dim() == 2 && is_floating(logits.dtype()),
               "predictions: logits must be a floating (N, C) tensor, got ",
               logits.defined() ? logits.describe() : std::string("an undefined tensor"));
  DISMAX_CHECK(labels.defined() && labels.dim() == 1 && labels.dtype() == DType::Int64,
               "predictions: labels must be an int64 (N) tensor, got ",
               labels.defined() ? labels.describe() : std::string("an undefined tensor"));
  DISMAX_CHECK(labels.size(0) == logits.size(0), "predictions: ", logits.size(0), " rows of logits but ",
               labels.size(0), " labels");
  return make_predictions(logits.to_vector<double>(), logits.size(1), labels.to_vector<int64_t>());
}

namespace {

void check_temperature(double t, const char* what) {
  DISMAX_CHECK(t > 0 && std::isfinite(t), what, ": temperature must be positive and finite, got ", t);
}

void check_bins(int bins, const char* what) {
  DISMAX_CHECK(bins >= 1, what, ": bins must be at least 1, got ", bins);
}

// Row-wise softmax of z / T: p_ij = exp(z_ij / T - shift_i) / sum_i, shift_i = max_j z_ij / T.
struct Softmax {
  std::vector<double> shift, sum;
  std::vector<int64_t> prediction;  // first index of the largest logit
  double probability(const Predictions& p, double t, int64_t i, int64_t j) const {
    return std::exp(p.logits[i * p.num_classes + j] / t - shift[i]) / sum[i];
  }
};

Softmax softmax_rows(const Predictions& p, double t) {
  const int64_t n = p.size(), c = p.num_classes;
  Softmax s;
  s.shift.resize(n);
  s.sum.resize(n);
  s.prediction.resize(n);
  parallel_for(0, n, std::max<int64_t>(1, 32768 / c), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double* z = p.logits.data() + i * c;
      int64_t arg = 0;
      for (int64_t j = 1; j < c; ++j)
        if (z[j] > z[arg]) arg = j;
      const double shift = z[arg] / t;
      double sum = 0;
      for (int64_t j = 0; j < c; ++j) sum += std::exp(z[j] / t - shift);
      s.shift[i] = shift;
      s.sum[i] = sum;
      s.prediction[i] = arg;
    }
  });
  return s;
}

// Per-bin proportion, accuracy, confidence and gap |conf - acc| (0 for empty bins). Bin b covers
// (edges[b], edges[b + 1]]; edges are non-decreasing, so a value is in at most one bin; values at or
// below edges[0] are in none.
struct Bins {
  std::vector<double> prop, acc, conf, gap;
};

Bins bin_statistics(const std::vector<double>& confidence, const std::vector<double>& correct,
                    const std::vector<double>& edges) {
  const size_t bins = edges.size() - 1, n = confidence.size();
  std::vector<double> count(bins, 0.0), sum_acc(bins, 0.0), sum_conf(bins, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const double c = confidence[i];
    const auto it = std::lower_bound(edges.begin(), edges.begin() + bins, c);  // first edge >= c
    if (it == edges.begin()) continue;
    const size_t b = static_cast<size_t>(it - edges.begin()) - 1;
    if (!(c <= edges[b + 1])) continue;
    count[b] += 1;
    sum_acc[b] += correct[i];
    sum_conf[b] += c;
  }
  Bins out{std::vector<double>(bins, 0.0), std::vector<double>(bins, 0.0), std::vector<double>(bins, 0.0),
           std::vector<double>(bins, 0.0)};
  for (size_t b = 0; b < bins; ++b) {
    out.prop[b] = count[b] / static_cast<double>(n);
    if (count[b] > 0) {
      out.acc[b] = sum_acc[b] / count[b];
      out.conf[b] = sum_conf[b] / count[b];
      out.gap[b] = std::abs(out.conf[b] - out.acc[b]);
    }
  }
  return out;
}

double weighted_gap(const Bins& b) {
  double e = 0;
  for (size_t i = 0; i < b.prop.size(); ++i) e += b.prop[i] * b.gap[i];
  return e;
}

// linspace(0, 1, bins + 1) as NumPy computes it: i * (1 / bins), the last edge exactly 1.
std::vector<double> uniform_edges(int bins) {
  std::vector<double> e(bins + 1);
  const double step = 1.0 / bins;
  for (int i = 0; i < bins; ++i) e[i] = i * step;
  e[bins] = 1.0;
  return e;
}

// Lower edges at ranks 0, m, 2m, ... (m = n / bins) of the sorted values, last upper edge 1.
std::vector<double> adaptive_edges(std::vector<double> values, int bins) {
  std::sort(values.begin(), values.end());
  const size_t m = values.size() / static_cast<size_t>(bins);
  std::vector<double> e(bins + 1);
  for (int i = 0; i < bins; ++i) e[i] = values[i * m];
  e[bins] = 1.0;
  return e;
}

Bins max_probability_bins(const Predictions& p, double t, int bins, const char* what) {
  check_temperature(t, what);
  check_bins(bins, what);
  const Softmax s = softmax_rows(p, t);
  const int64_t n = p.size();
  std::vector<double> confidence(n), correct(n);
  for (int64_t i = 0; i < n; ++i) {
    confidence[i] = 1.0 / s.sum[i];  // exp(0) / sum
    correct[i] = s.prediction[i] == p.labels[i] ? 1.0 : 0.0;
  }
  return bin_statistics(confidence, correct, uniform_edges(bins));
}

// Mean over classes of the class-wise ECE; threshold < 0 selects the uniform bins (SCE), otherwise
// probabilities below it become 0 and the bins are adaptive (TACE).
double class_wise_error(const Predictions& p, double t, int bins, double threshold, const char* what) {
  check_temperature(t, what);
  check_bins(bins, what);
  const Softmax s = softmax_rows(p, t);
  const int64_t n = p.size(), c = p.num_classes;
  std::vector<double> per_class(c);
  const std::vector<double> uniform = uniform_edges(bins);
  parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> confidence(n), correct(n);
    for (int64_t k = begin; k < end; ++k) {
      for (int64_t i = 0; i < n; ++i) {
        double q = s.probability(p, t, i, k);
        if (threshold >= 0 && q < threshold) q = 0;
        confidence[i] = q;
        correct[i] = (s.prediction[i] == k) == (p.labels[i] == k) ? 1.0 : 0.0;
      }
      per_class[k] = weighted_gap(
          bin_statistics(confidence, correct, threshold >= 0 ? adaptive_edges(confidence, bins) : uniform));
    }
  });
  double total = 0;
  for (double e : per_class) total += e;
  return total / static_cast<double>(c);
}

double population_std(const std::vector<double>& v, double mean) {
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return std::sqrt(s / static_cast<double>(v.size()));
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

}  // namespace

double top1_accuracy(const Predictions& p) {
  const int64_t n = p.size(), c = p.num_classes;
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* z = p.logits.data() + i * c;
    int64_t arg = 0;
    for (int64_t j = 1; j < c; ++j)
      if (z[j] > z[arg]) arg = j;
    correct += arg == p.labels[i];
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

double negative_log_likelihood(const Predictions& p, double temperature) {
  check_temperature(temperature, "negative_log_likelihood");
  const Softmax s = softmax_rows(p, temperature);
  double total = 0;
  for (int64_t i = 0; i < p.size(); ++i)
    total += s.shift[i] + std::log(s.sum[i]) - p.logits[i * p.num_classes + p.labels[i]] / temperature;
  return total / static_cast<double>(p.size());
}

std::vector<double> max_probabilities(const Predictions& p, double temperature) {
  check_temperature(temperature, "max_probabilities");
  const Softmax s = softmax_rows(p, temperature);
  std::vector<double> out(p.size());
  for (int64_t i = 0; i < p.size(); ++i) out[i] = 1.0 / s.sum[i];
  return out;
}

double expected_calibration_error(const Predictions& p, double temperature, int bins) {
  return weighted_gap(max_probability_bins(p, temperature, bins, "expected_calibration_error"));
}

double maximum_calibration_error(const Predictions& p, double temperature, int bins) {
  const Bins b = max_probability_bins(p, temperature, bins, "maximum_calibration_error");
  return *std::max_element(b.gap.begin(), b.gap.end());
}

double overconfidence_error(const Predictions& p, double temperature, int bins) {
  const Bins b = max_probability_bins(p, temperature, bins, "overconfidence_error");
  double e = 0;
  for (size_t i = 0; i < b.prop.size(); ++i) e += b.prop[i] * b.conf[i] * std::max(b.conf[i] - b.acc[i], 0.0);
  return e;
}

double static_calibration_error(const Predictions& p, double temperature, int bins) {
  return class_wise_error(p, temperature, bins, -1.0, "static_calibration_error");
}

double thresholded_adaptive_calibration_error(const Predictions& p, double temperature, double threshold,
                                              int bins) {
  DISMAX_CHECK(threshold >= 0 && threshold <= 1, "thresholded_adaptive_calibration_error: threshold ",
               threshold, " is outside [0, 1]");
  return class_wise_error(p, temperature, bins, threshold, "thresholded_adaptive_calibration_error");
}

double adaptive_calibration_error(const Predictions& p, double temperature, int bins) {
  return class_wise_error(p, temperature, bins, 0.0, "adaptive_calibration_error");
}

ClassificationMetrics classification_metrics(const Predictions& p, double temperature) {
  check_temperature(temperature, "classification_metrics");
  ClassificationMetrics m;
  m.count = p.size();
  m.accuracy = top1_accuracy(p);
  m.nll = negative_log_likelihood(p, temperature);
  const Bins b = max_probability_bins(p, temperature, 15, "classification_metrics");
  m.ece = weighted_gap(b);
  m.mce = *std::max_element(b.gap.begin(), b.gap.end());
  for (size_t i = 0; i < b.prop.size(); ++i)
    m.oe += b.prop[i] * b.conf[i] * std::max(b.conf[i] - b.acc[i], 0.0);
  m.sce = static_calibration_error(p, temperature);
  m.tace = thresholded_adaptive_calibration_error(p, temperature);
  m.ace = adaptive_calibration_error(p, temperature);

  const Softmax s = softmax_rows(p, temperature);
  const int64_t n = p.size(), c = p.num_classes;
  std::vector<double> max_p(n), entropy(n);
  const double log_c = std::log(static_cast<double>(c));
  for (int64_t i = 0; i < n; ++i) {
    // H = log(sum) - sum_j e_j x_j / sum with x_j = z_j / T - shift and e_j = exp(x_j): finite even where
    // some e_j underflow to 0.
    double weighted = 0;
    for (int64_t j = 0; j < c; ++j) {
      const double x = p.logits[i * c + j] / temperature - s.shift[i];
      weighted += std::exp(x) * x;
    }
    max_p[i] = 1.0 / s.sum[i];
    entropy[i] = c > 1 ? std::max(0.0, std::log(s.sum[i]) - weighted / s.sum[i]) / log_c : 0.0;
  }
  m.mean_max_probability = mean_of(max_p);
  m.std_max_probability = population_std(max_p, m.mean_max_probability);
  m.mean_normalized_entropy = mean_of(entropy);
  m.std_normalized_entropy = population_std(entropy, m.mean_normalized_entropy);
  return m;
}

ClassificationMetrics classification_metrics(const Tensor& logits, const Tensor& labels, double temperature) {
  return classification_metrics(make_predictions(logits, labels), temperature);
}

}  // namespace dismax
