// OOD-detection metrics computed on the host in double precision: those of the original calculate_log
// (SPEC §6.2), of the sklearn-based library (SPEC §6.3) and OpenOOD's FPR at 95% TPR, as fractions. The
// metric set is described once (ood_metric_table) for every writer of results.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace dismax {

// In-distribution is the positive class and a higher score means more in-distribution.
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

// The OOD metric set, described once for every writer of results (results.json, results.md,
// ood_metrics.csv), in the order of the Markdown tables.
struct OodMetricField {
  const char* key;         // JSON key and CSV column: "auroc"
  const char* title;       // Markdown column: "AUROC"
  const char* convention;  // how it is computed, in a few words
  bool higher_is_better;
  bool in_summary;         // a column of results.md's per-set tables
  double OodMetrics::*value;
};
const std::vector<OodMetricField>& ood_metric_table();

}  // namespace dismax
