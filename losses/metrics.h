// Classification, calibration-error and OOD-detection metrics computed on the host in double precision:
// top-1 accuracy, NLL and the calibration errors of SPEC §2.1 (ECE, MCE, OE, SCE, TACE, ACE), and the OOD
// metrics of the original calculate_log (SPEC §6.2) and of the sklearn-based library (SPEC §6.3).
// All results are fractions (accuracy 0.93, not 93).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace dismax {

// ---------------------------------------------------------------------------------------------------------
// Classification and calibration

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

// ---------------------------------------------------------------------------------------------------------
// OOD detection. In-distribution is the positive class and a higher score means more in-distribution.
//
// NaN scores (the literal ES/MMLES scores can be NaN where a probability underflows to 0) are treated as
// -inf, i.e. as the most OOD value possible, in every function below, and counted in OodMetrics: a NaN
// carries no evidence that a sample is in-distribution, so an in-distribution sample with a NaN score is
// always rejected. Infinite scores are ordinary values (ties among equal infinities). Neither set may be
// empty (throws "ood metrics: no in-distribution scores" / "... no out-of-distribution scores").

// The original calculate_log curve (SPEC §6.2): (tp[l], fp[l]) for l = 0 .. n_in + n_out, the numbers of
// in- and out-of-distribution samples strictly above a cut that moves up through the merged sorted scores
// (on ties the in-distribution sample is removed first). tp[0] = n_in, fp[0] = n_out, both end at 0.
struct CalculateLogCurve {
  std::vector<int64_t> tp, fp;  // (n_in + n_out + 1)
};
CalculateLogCurve calculate_log_curve(const std::vector<double>& in_scores,
                                      const std::vector<double>& out_scores);

// sklearn's roc_curve(y_true, y_score) with y_true = 1 for in-distribution: one point per distinct score
// in decreasing order of threshold, collinear interior points dropped when drop_intermediate (sklearn's
// second-difference rule), and a first point (0, 0) with threshold +inf. fpr and tpr are non-decreasing.
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(const std::vector<double>& in_scores, const std::vector<double>& out_scores,
                   bool drop_intermediate = true);

struct OodMetrics {
  // The original calculate_log (SPEC §6.2), the paper's numbers as fractions. Ties between an in- and an
  // out-of-distribution score count against the detector in auroc (the staircase removes the in-distribution
  // sample first), unlike sklearn_auroc which counts them one half.
  double auroc = 0;
  double aupr_in = 0;             // AUIN: precision-recall area with in-distribution positive
  double aupr_out = 0;            // AUOUT: the same with OOD positive
  double tnr_at_tpr95 = 0;        // 1 - FPR at the curve point whose TPR is nearest to 0.95 (first on ties)
  double detection_accuracy = 0;  // DTACC: max over the curve of (TPR + TNR) / 2
  // FPR at 95% TPR with OOD as the positive class (OpenOOD's convention): with the scores negated, the
  // first point of sklearn's roc_curve (drop_intermediate) whose TPR, the fraction of OOD samples detected,
  // reaches 0.95; the value is that point's FPR, the fraction of in-distribution samples flagged as OOD.
  // Lower is better (unlike the other fields). OpenOOD computes fpr_list[argmax(tpr_list >= 0.95)].
  double fpr_at_tpr95 = 0;
  // The library's sklearn-based metrics (SPEC §6.3): roc_auc_score, auc(recall, precision) of
  // precision_recall_curve with in-distribution positive and with negated scores and OOD positive, and the
  // TPR at the first point of roc_curve (drop_intermediate) whose FPR is nearest to 0.05.
  double sklearn_auroc = 0;
  double sklearn_aupr_in = 0;
  double sklearn_aupr_out = 0;
  double tpr_at_fpr5 = 0;
  int64_t num_in = 0, num_out = 0;
  int64_t nan_in = 0, nan_out = 0;  // NaN scores, treated as -inf
};
OodMetrics ood_metrics(const std::vector<double>& in_scores, const std::vector<double>& out_scores);
OodMetrics ood_metrics(const std::vector<float>& in_scores, const std::vector<float>& out_scores);
// Scores (N) of any floating dtype, on any device.
OodMetrics ood_metrics(const Tensor& in_scores, const Tensor& out_scores);

}  // namespace dismax
