#include "tools/eval/report.h"

#include <cstdio>
#include <sstream>

namespace dismax {

namespace {
std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100.0 * v);
  return buf;
}
std::string num(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
size_t index_of(const std::vector<Score>& scores, Score s) {
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i] == s) return i;
  return scores.size();
}
}  // namespace

std::string markdown_report(const ReportInput& in) {
  std::ostringstream md;
  md << "# " << in.model << " with " << in.loss << " on " << in.dataset << "\n\n";
  // Table 2 layout: accuracy, calibrated ECE, then AUROC and AUPR-out per OOD set for the primary score.
  const Score primary = in.recommended.front();
  const size_t p = index_of(in.scores, primary);
  md << "| model | loss [score] | ACC (%) | ECE |";
  for (const auto& o : in.ood) md << " " << o.name << " AUROC (%) | " << o.name << " AUPR-out (%) |";
  md << "\n|---|---|---:|---:|";
  for (size_t i = 0; i < in.ood.size(); ++i) md << "---:|---:|";
  md << "\n| " << in.model << " | " << in.loss << " [" << score_name(primary) << "] | " << pct(in.before.accuracy)
     << " | " << num(in.after.ece, 4) << " |";
  for (const auto& o : in.ood) {
    if (p < o.metrics.size()) md << " " << pct(o.metrics[p].auroc) << " | " << pct(o.metrics[p].aupr_out) << " |";
    else md << " – | – |";
  }
  md << "\n\n## Classification and calibration (" << in.dataset << " test set)\n\n";
  md << "| | temperature | accuracy (%) | NLL | ECE (15 bins) | MCE |\n|---|---:|---:|---:|---:|---:|\n";
  md << "| checkpoint | " << num(in.checkpoint_temperature, 4) << " | " << pct(in.before.accuracy) << " | "
     << num(in.before.nll, 4) << " | " << num(in.before.ece, 4) << " | " << num(in.before.mce, 4) << " |\n";
  md << "| calibrated on " << in.calibration_split << " | "
     << num(in.checkpoint_temperature * in.calibration.temperature, 4) << " | " << pct(in.after.accuracy) << " | "
     << num(in.after.nll, 4) << " | " << num(in.after.ece, 4) << " | " << num(in.after.mce, 4) << " |\n";
  if (in.calibration.at_bound) md << "\nThe calibrated temperature lies on a search bound.\n";
  for (const auto& o : in.ood) {
    md << "\n## OOD: " << o.name << " (in-distribution positive; percentages)\n\n";
    md << "| score |";
    for (const auto& f : ood_metric_table())
      if (f.in_summary) md << " " << f.title << " |";
    md << "\n|---|";
    for (const auto& f : ood_metric_table())
      if (f.in_summary) md << "---:|";
    md << "\n";
    for (size_t k = 0; k < in.scores.size() && k < o.metrics.size(); ++k) {
      md << "| " << score_name(in.scores[k]) << (index_of(in.recommended, in.scores[k]) < in.recommended.size() ? " *" : "")
         << " |";
      for (const auto& f : ood_metric_table())
        if (f.in_summary) md << " " << pct(o.metrics[k].*f.value) << " |";
      md << "\n";
    }
  }
  md << "\n`*` the loss's recommended score. OOD metrics use the checkpoint's temperature, as the paper does.";
  for (const auto& f : ood_metric_table())
    if (f.in_summary && !f.higher_is_better) md << " " << f.title << ": lower is better.";
  md << "\n";
  return md.str();
}

nlohmann::json ood_json(const OodMetrics& m) {
  nlohmann::json j;
  for (const auto& f : ood_metric_table()) j[f.key] = m.*f.value;
  j["in_samples"] = m.num_in;
  j["out_samples"] = m.num_out;
  j["nan_scores_in"] = m.nan_in;
  j["nan_scores_out"] = m.nan_out;
  return j;
}

std::string ood_metrics_csv(const ReportInput& in) {
  std::ostringstream csv;
  csv << "ood_set,score,recommended";
  for (const auto& f : ood_metric_table()) csv << "," << f.key;
  csv << ",in_samples,out_samples,nan_scores_in,nan_scores_out\n";
  char value[40];
  for (const auto& o : in.ood)
    for (size_t k = 0; k < in.scores.size() && k < o.metrics.size(); ++k) {
      const OodMetrics& m = o.metrics[k];
      csv << o.name << "," << score_name(in.scores[k]) << ","
          << (index_of(in.recommended, in.scores[k]) < in.recommended.size() ? 1 : 0);
      for (const auto& f : ood_metric_table()) {
        std::snprintf(value, sizeof value, "%.9g", m.*f.value);
        csv << "," << value;
      }
      csv << "," << m.num_in << "," << m.num_out << "," << m.nan_in << "," << m.nan_out << "\n";
    }
  return csv.str();
}

}  // namespace dismax
