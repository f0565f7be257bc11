// dismax-eval's human-readable outputs: results.md (the paper's Table 2 layout for the loss's recommended
// score, then every metric for every OOD set and score) and PNG plots (score histograms and ROC curves).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "losses/calibration.h"
#include "losses/metrics.h"
#include "losses/scores.h"

namespace dismax {

struct OodReport {
  std::string name;
  std::vector<OodMetrics> metrics;                  // per score, in ReportInput::scores order
  std::vector<std::vector<float>> in_scores, out_scores;
};

struct ReportInput {
  std::string model, loss, dataset;
  ClassificationMetrics before, after;  // at the checkpoint's temperature and after calibration
  CalibrationResult calibration;
  std::string calibration_split;
  double checkpoint_temperature = 1.0;
  std::vector<Score> recommended, scores;
  std::vector<OodReport> ood;
};

std::string markdown_report(const ReportInput& input);
// One histogram and one ROC plot per OOD set for each recommended score; returns the files written.
std::vector<std::string> write_plots(const ReportInput& input, const std::filesystem::path& folder);

}  // namespace dismax
