// Classification and calibration-error metrics computed on the host in double precision: top-1 accuracy,
// NLL and the calibration errors of SPEC §2.1 (ECE, MCE, OE, SCE, TACE, ACE). All results are fractions
// (accuracy 0.93, not 93). OOD detection is metrics/ood.h.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace dismax {

// A classifier's outputs on the host: logits (n, num_classes) row-major and labels (n) in [0, num_classes).
struct Predictions {
  std::vector<double> logits;   // (n, num_classes), row-major
  std::vector<int64_t> labels;  // (n)
  int64_t num_classes = 0;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Checks the shapes, the label range and that every logit is finite (throws naming what is wrong) and
// bundles the values.
Predictions make_predictions(std::vector<double> logits, int64_t num_classes, std::vector<int64_t> labels);
// logits (N, C) of a floating dtype and labels (N) int64, on any device (copied to the host).
Predictions make_predictions(const Tensor& logits, const Tensor& labels);

// Every metric below divides the logits by `temperature` (> 0) first and takes the softmax in double
// precision (max subtracted). The prediction is the first index of the largest logit.
double top1_accuracy(const Predictions& p);                                      // fraction correct
double negative_log_likelihood(const Predictions& p, double temperature = 1.0);  // mean cross-entropy

// Calibration errors with `bins` equal-width bins (lower, upper] over edges linspace(0, 1, bins + 1):
//   ECE = sum_b prop_b |conf_b - acc_b|      MCE = max_b |conf_b - acc_b| (0 for empty bins)
//   OE  = sum_b prop_b conf_b max(conf_b - acc_b, 0)
// where conf is the max-probability and acc the correctness of the prediction.
double expected_calibration_error(const Predictions& p, double temperature = 1.0, int bins = 15);
double maximum_calibration_error(const Predictions& p, double temperature = 1.0, int bins = 15);
double overconfidence_error(const Predictions& p, double temperature = 1.0, int bins = 15);
// Class-wise: for class k the confidence is p_ik and the "accuracy" [(prediction == k) == (label == k)]
// (1 also when both are false, as the original), averaged over classes. SCE uses the equal-width bins;
// TACE sets probabilities below `threshold` to 0 and uses adaptive bins per class whose lower edges are the
// sorted values at ranks 0, m, 2m, ... (m = n / bins, truncated; last upper edge 1); ACE is TACE with
// threshold 0.
double static_calibration_error(const Predictions& p, double temperature = 1.0, int bins = 15);
double thresholded_adaptive_calibration_error(const Predictions& p, double temperature = 1.0,
                                              double threshold = 0.01, int bins = 15);
double adaptive_calibration_error(const Predictions& p, double temperature = 1.0, int bins = 15);

// Max-probability of each sample at `temperature`: (n).
std::vector<double> max_probabilities(const Predictions& p, double temperature = 1.0);

struct ClassificationMetrics {
  int64_t count = 0;
  double accuracy = 0;  // top-1, fraction
  double nll = 0;
  double ece = 0, mce = 0, oe = 0, sce = 0, tace = 0, ace = 0;  // 15 bins, TACE threshold 0.01
  // Mean and population std of max_j p_j and of the entropy -sum_j p_j log p_j / ln C (0 log 0 = 0, so
  // always finite, unlike the original's literal p log p; 0 when C = 1).
  double mean_max_probability = 0, std_max_probability = 0;
  double mean_normalized_entropy = 0, std_normalized_entropy = 0;
};
ClassificationMetrics classification_metrics(const Predictions& p, double temperature = 1.0);
ClassificationMetrics classification_metrics(const Tensor& logits, const Tensor& labels,
                                             double temperature = 1.0);

}  // namespace dismax
