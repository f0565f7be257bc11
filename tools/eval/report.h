// dismax-eval's outputs of the metrics: results.md (the paper's Table 2 layout for the loss's recommended
// score, then the summary metrics for every OOD set and score), the OOD part of results.json,
// ood_metrics.csv (every OOD metric, one row per OOD set and score) and PNG plots (score histograms and ROC
// curves). Every OOD writer iterates ood_metric_table().
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/calibration.h"
#include "metrics/classification.h"
#include "metrics/ood.h"
#include "losses/scores.h"

namespace dismax {

struct OodReport {
  std::string name;
  std::vector<OodMetrics> metrics;              // per score, in ReportInput::scores order
  std::vector<std::vector<float>> out_scores;  // per score
};

struct ReportInput {
  std::string model, loss, dataset;
  ClassificationMetrics before, after;  // at the checkpoint's temperature and after calibration
  CalibrationResult calibration;
  std::string calibration_split;
  double checkpoint_temperature = 1.0;
  std::vector<Score> recommended, scores;
  std::vector<std::vector<float>> in_scores;  // per score, the in-distribution test set's
  std::vector<OodReport> ood;
};

std::string markdown_report(const ReportInput& input);
// Every OOD metric of one OOD set and score, and the sample counts.
nlohmann::json ood_json(const OodMetrics& metrics);
// Header "ood_set,score,recommended,<metric keys>,in_samples,out_samples,nan_scores_in,nan_scores_out".
std::string ood_metrics_csv(const ReportInput& input);
// One histogram and one ROC plot per OOD set for each recommended score; returns the files written.
std::vector<std::string> write_plots(const ReportInput& input, const std::filesystem::path& folder);

}  // namespace dismax
