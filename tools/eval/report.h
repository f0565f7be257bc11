// dismax-eval's outputs of the metrics: results.md (the paper's Table 2 layout for the loss's recommended
// score, a method x set table with OpenOOD's conventions, then the summary metrics for every OOD set and
// method), the OOD part of results.json, ood_metrics.csv (every OOD metric, one row per OOD set and
// method), ood.csv (OpenOOD v1.5's layout) and PNG plots (score histograms and ROC curves). Every OOD
// writer iterates ood_metric_table().
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/calibration.h"
#include "metrics/classification.h"
#include "metrics/ood.h"

namespace dismax {

struct OodReport {
  std::string name;
  std::string group;                           // "near", "far" or ""
  std::vector<OodMetrics> metrics;             // per method, in ReportInput::methods order
  std::vector<std::vector<double>> out_scores;  // per method
};

struct ReportInput {
  std::string model, loss, dataset;
  ClassificationMetrics before, after;  // at the checkpoint's temperature and after calibration
  CalibrationResult calibration;
  std::string calibration_split;
  double checkpoint_temperature = 1.0;
  std::vector<std::string> recommended, methods;  // method names (posthoc/method.h)
  std::vector<std::vector<double>> in_scores;     // per method, the in-distribution test set's
  std::vector<OodReport> ood;
  std::map<std::string, std::string> undefined;  // method -> why it has no value here
};

std::string markdown_report(const ReportInput& input);
// Every OOD metric of one OOD set and method, and the sample counts.
nlohmann::json ood_json(const OodMetrics& metrics);
// Header "ood_set,method,recommended,<metric keys>,in_samples,out_samples,nan_scores_in,nan_scores_out".
std::string ood_metrics_csv(const ReportInput& input);
// OpenOOD v1.5's ood.csv: "method,dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC" in percent, OOD positive for
// FPR@95 and AUPR_OUT, sklearn's areas; a row per OOD set and, after each group, its mean ("nearood",
// "farood"); ACC is the in-distribution test accuracy.
std::string openood_csv(const ReportInput& input);
// One histogram and one ROC plot per OOD set for each recommended method; returns the files written.
std::vector<std::string> write_plots(const ReportInput& input, const std::filesystem::path& folder);

}  // namespace dismax
