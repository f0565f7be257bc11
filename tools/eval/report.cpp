#include "tools/eval/report.h"

#include <algorithm>
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
std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}
bool is_recommended(const ReportInput& in, const std::string& method) {
  return index_of(in.recommended, method) < in.recommended.size();
}

// OpenOOD's four numbers for one set (or a group's mean) and method.
struct OpenOodRow {
  std::string dataset;
  double fpr95 = 0, auroc = 0, aupr_in = 0, aupr_out = 0;
};

// The rows of ood.csv for method k: each set, and after the sets of a group its mean.
std::vector<OpenOodRow> openood_rows(const ReportInput& in, size_t k) {
  std::vector<OpenOodRow> rows;
  for (const char* group : {"near", "far", ""}) {
    OpenOodRow mean{std::string(group) + "ood"};
    int count = 0;
    for (const auto& o : in.ood) {
      if (o.group != group || k >= o.metrics.size()) continue;
      const OodMetrics& m = o.metrics[k];
      rows.push_back({o.name, m.fpr_at_tpr95, m.sklearn_auroc, m.sklearn_aupr_in, m.sklearn_aupr_out});
      mean.fpr95 += m.fpr_at_tpr95;
      mean.auroc += m.sklearn_auroc;
      mean.aupr_in += m.sklearn_aupr_in;
      mean.aupr_out += m.sklearn_aupr_out;
      ++count;
    }
    if (*group && count > 0) {
      for (double* v : {&mean.fpr95, &mean.auroc, &mean.aupr_in, &mean.aupr_out}) *v /= count;
      rows.push_back(mean);
    }
  }
  return rows;
}
}  // namespace

std::string markdown_report(const ReportInput& in) {
  std::ostringstream md;
  md << "# " << in.model << " with " << in.loss << " on " << in.dataset << "\n\n";
  // Table 2 layout: accuracy, calibrated ECE, then AUROC and AUPR-out per OOD set for the primary score.
  const std::string primary = in.recommended.front();
  const size_t p = index_of(in.methods, primary);
  md << "| model | loss [score] | ACC (%) | ECE |";
  for (const auto& o : in.ood) md << " " << o.name << " AUROC (%) | " << o.name << " AUPR-out (%) |";
  md << "\n|---|---|---:|---:|";
  for (size_t i = 0; i < in.ood.size(); ++i) md << "---:|---:|";
  md << "\n| " << in.model << " | " << in.loss << " [" << primary << "] | " << pct(in.before.accuracy) << " | "
     << num(in.after.ece, 4) << " |";
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
  if (!in.ood.empty() && !in.methods.empty()) {
    // Method x set, OpenOOD's conventions: AUROC (sklearn) / FPR at 95% TPR with OOD positive.
    const auto columns = openood_rows(in, 0);
    md << "\n## OOD methods x sets (AUROC / FPR@95 in %, OpenOOD v1.5's conventions: FPR@95 with OOD positive)\n\n";
    md << "| method |";
    for (const auto& c : columns) md << " " << c.dataset << " |";
    md << "\n|---|";
    for (size_t i = 0; i < columns.size(); ++i) md << "---:|";
    md << "\n";
    for (size_t k = 0; k < in.methods.size(); ++k) {
      md << "| " << in.methods[k] << (is_recommended(in, in.methods[k]) ? " *" : "") << " |";
      for (const auto& r : openood_rows(in, k)) md << " " << pct(r.auroc) << " / " << pct(r.fpr95) << " |";
      md << "\n";
    }
  }
  for (const auto& [method, why] : in.undefined) md << "\n" << method << ": " << why << ".\n";
  for (const auto& o : in.ood) {
    md << "\n## OOD: " << o.name << " (in-distribution positive; percentages)\n\n";
    md << "| method |";
    for (const auto& f : ood_metric_table())
      if (f.in_summary) md << " " << f.title << " |";
    md << "\n|---|";
    for (const auto& f : ood_metric_table())
      if (f.in_summary) md << "---:|";
    md << "\n";
    for (size_t k = 0; k < in.methods.size() && k < o.metrics.size(); ++k) {
      md << "| " << in.methods[k] << (is_recommended(in, in.methods[k]) ? " *" : "") << " |";
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
  csv << "ood_set,method,recommended";
  for (const auto& f : ood_metric_table()) csv << "," << f.key;
  csv << ",in_samples,out_samples,nan_scores_in,nan_scores_out\n";
  for (const auto& o : in.ood)
    for (size_t k = 0; k < in.methods.size() && k < o.metrics.size(); ++k) {
      const OodMetrics& m = o.metrics[k];
      csv << o.name << "," << in.methods[k] << "," << (is_recommended(in, in.methods[k]) ? 1 : 0);
      for (const auto& f : ood_metric_table()) csv << "," << exact(m.*f.value);
      csv << "," << m.num_in << "," << m.num_out << "," << m.nan_in << "," << m.nan_out << "\n";
    }
  return csv.str();
}

std::string openood_csv(const ReportInput& in) {
  std::ostringstream csv;
  csv << "method,dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC\n";
  for (size_t k = 0; k < in.methods.size(); ++k)
    for (const auto& r : openood_rows(in, k))
      csv << in.methods[k] << "," << r.dataset << "," << pct(r.fpr95) << "," << pct(r.auroc) << "," << pct(r.aupr_in)
          << "," << pct(r.aupr_out) << "," << pct(in.before.accuracy) << "\n";
  return csv.str();
}

}  // namespace dismax
