#include "metrics/ood.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>


namespace dismax {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// NaN -> -inf (the most OOD value), counting them.
std::vector<double> clean_scores(const std::vector<double>& scores, const char* which, int64_t* nans) {
  DISMAX_CHECK(!scores.empty(), "ood metrics: no ", which, " scores");
  std::vector<double> out(scores);
  int64_t count = 0;
  for (double& v : out)
    if (std::isnan(v)) {
      v = kNegInf;
      ++count;
    }
  if (nans) *nans = count;
  return out;
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// trapz(y, x) as NumPy: sum_i (x[i+1] - x[i]) (y[i+1] + y[i]) / 2.
double trapz(const std::vector<double>& y, const std::vector<double>& x) {
  double area = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) area += (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
  return area;
}

// The distinct score values in increasing order with the number of in- and out-of-distribution samples
// holding each.
struct ScoreGroups {
  std::vector<double> value;
  std::vector<int64_t> in, out;
};

ScoreGroups group_scores(const std::vector<double>& in, const std::vector<double>& out) {
  std::vector<std::pair<double, int>> all;
  all.reserve(in.size() + out.size());
  for (double v : in) all.emplace_back(v, 1);
  for (double v : out) all.emplace_back(v, 0);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ScoreGroups g;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i == 0 || all[i].first != all[i - 1].first) {
      g.value.push_back(all[i].first);
      g.in.push_back(0);
      g.out.push_back(0);
    }
    (all[i].second ? g.in : g.out).back() += 1;
  }
  return g;
}

// Cumulative (tps, fps) counts per distinct threshold in decreasing order: sklearn's _binary_clf_curve.
struct ClfCurve {
  std::vector<double> tps, fps, thresholds;
};

ClfCurve descending_curve(const ScoreGroups& g) {
  ClfCurve c;
  double tp = 0, fp = 0;
  for (size_t k = g.value.size(); k-- > 0;) {
    tp += static_cast<double>(g.in[k]);
    fp += static_cast<double>(g.out[k]);
    c.tps.push_back(tp);
    c.fps.push_back(fp);
    c.thresholds.push_back(g.value[k]);
  }
  return c;
}

RocCurve roc_from_groups(const ScoreGroups& g, bool drop_intermediate) {
  const ClfCurve c = descending_curve(g);
  const size_t m = c.tps.size();
  std::vector<size_t> keep;
  for (size_t i = 0; i < m; ++i) {
    const bool interior = drop_intermediate && m > 2 && i > 0 && i + 1 < m;
    if (interior && c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1] == 0 &&
        c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1] == 0)
      continue;
    keep.push_back(i);
  }
  const double n_in = c.tps.back(), n_out = c.fps.back();
  RocCurve r;
  r.fpr.push_back(0);
  r.tpr.push_back(0);
  r.thresholds.push_back(std::numeric_limits<double>::infinity());
  for (size_t i : keep) {
    r.fpr.push_back(c.fps[i] / n_out);
    r.tpr.push_back(c.tps[i] / n_in);
    r.thresholds.push_back(c.thresholds[i]);
  }
  return r;
}

// auc(recall, precision) of sklearn's precision_recall_curve, given the cumulative positive and negative
// counts at each threshold from the highest to the lowest: the end point (recall 0, precision 1) followed by
// the thresholds' points.
double pr_area(const std::vector<double>& tps, const std::vector<double>& fps) {
  std::vector<double> recall{0.0}, precision{1.0};
  const double n_pos = tps.back();
  for (size_t i = 0; i < tps.size(); ++i) {
    recall.push_back(tps[i] / n_pos);
    precision.push_back(tps[i] / (tps[i] + fps[i]));
  }
  return trapz(precision, recall);
}

size_t first_nearest(const std::vector<double>& values, double target) {
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (std::abs(values[i] - target) < std::abs(values[best] - target)) best = i;
  return best;
}

void orig_metrics(const CalculateLogCurve& c, OodMetrics& m) {
  const double nk = static_cast<double>(c.tp.front()), nn = static_cast<double>(c.fp.front());
  const size_t L = c.tp.size();
  std::vector<double> tpr{1.0}, fpr{1.0};
  for (size_t l = 0; l < L; ++l) {
    tpr.push_back(static_cast<double>(c.tp[l]) / nk);
    fpr.push_back(static_cast<double>(c.fp[l]) / nn);
  }
  tpr.push_back(0.0);
  fpr.push_back(0.0);

  std::vector<double> tpr_curve(tpr.begin() + 1, tpr.end() - 1);
  const size_t l95 = first_nearest(tpr_curve, 0.95);
  m.tnr_at_tpr95 = 1.0 - static_cast<double>(c.fp[l95]) / nn;

  std::vector<double> tnr(fpr.size());
  for (size_t i = 0; i < fpr.size(); ++i) tnr[i] = 1.0 - fpr[i];
  m.auroc = -trapz(tnr, tpr);

  double best = -1;
  for (size_t l = 0; l < L; ++l) best = std::max(best, tpr[l + 1] + 1.0 - fpr[l + 1]);
  m.detection_accuracy = 0.5 * best;

  // Precision with in-distribution positive over (tpr), and with OOD positive over (1 - fpr); points with
  // an empty denominator are skipped, the prepended and appended points always kept.
  std::vector<double> pin{0.5}, x_in{tpr.front()}, pout{0.0}, x_out{tnr.front()};
  for (size_t l = 0; l < L; ++l) {
    const double den_in = static_cast<double>(c.tp[l] + c.fp[l]);
    if (den_in > 0) {
      pin.push_back(static_cast<double>(c.tp[l]) / den_in);
      x_in.push_back(tpr[l + 1]);
    }
    const double den_out = (nk - static_cast<double>(c.tp[l])) + (nn - static_cast<double>(c.fp[l]));
    if (den_out > 0) {
      pout.push_back((nn - static_cast<double>(c.fp[l])) / den_out);
      x_out.push_back(tnr[l + 1]);
    }
  }
  pin.push_back(0.0);
  x_in.push_back(tpr.back());
  pout.push_back(0.5);
  x_out.push_back(tnr.back());
  m.aupr_in = -trapz(pin, x_in);
  m.aupr_out = trapz(pout, x_out);
}

}  // namespace

CalculateLogCurve calculate_log_curve(const std::vector<double>& in_scores,
                                      const std::vector<double>& out_scores) {
  std::vector<double> known = clean_scores(in_scores, "in-distribution", nullptr);
  std::vector<double> novel = clean_scores(out_scores, "out-of-distribution", nullptr);
  std::sort(known.begin(), known.end());
  std::sort(novel.begin(), novel.end());
  const int64_t nk = static_cast<int64_t>(known.size()), nn = static_cast<int64_t>(novel.size());
  CalculateLogCurve c;
  c.tp.assign(nk + nn + 1, 0);
  c.fp.assign(nk + nn + 1, 0);
  c.tp[0] = nk;
  c.fp[0] = nn;
  int64_t k = 0, n = 0;
  for (int64_t l = 0; l < nk + nn; ++l) {
    const bool remove_novel = k == nk || (n < nn && novel[n] < known[k]);
    if (remove_novel)
      ++n;
    else
      ++k;
    c.tp[l + 1] = c.tp[l] - (remove_novel ? 0 : 1);
    c.fp[l + 1] = c.fp[l] - (remove_novel ? 1 : 0);
  }
  return c;
}

RocCurve roc_curve(const std::vector<double>& in_scores, const std::vector<double>& out_scores,
                   bool drop_intermediate) {
  return roc_from_groups(group_scores(clean_scores(in_scores, "in-distribution", nullptr),
                                      clean_scores(out_scores, "out-of-distribution", nullptr)),
                         drop_intermediate);
}

OodMetrics ood_metrics(const std::vector<double>& in_scores, const std::vector<double>& out_scores) {
  OodMetrics m;
  const std::vector<double> in = clean_scores(in_scores, "in-distribution", &m.nan_in);
  const std::vector<double> out = clean_scores(out_scores, "out-of-distribution", &m.nan_out);
  m.num_in = static_cast<int64_t>(in.size());
  m.num_out = static_cast<int64_t>(out.size());

  orig_metrics(calculate_log_curve(in, out), m);

  const ScoreGroups g = group_scores(in, out);
  const RocCurve roc = roc_from_groups(g, true);
  m.sklearn_auroc = trapz(roc.tpr, roc.fpr);
  m.tpr_at_fpr5 = roc.tpr[first_nearest(roc.fpr, 0.05)];

  const ClfCurve down = descending_curve(g);
  m.sklearn_aupr_in = pr_area(down.tps, down.fps);
  // OOD positive with negated scores: thresholds from the lowest score upwards.
  std::vector<double> tps_out, fps_out;
  double tp = 0, fp = 0;
  for (size_t k = 0; k < g.value.size(); ++k) {
    tp += static_cast<double>(g.out[k]);
    fp += static_cast<double>(g.in[k]);
    tps_out.push_back(tp);
    fps_out.push_back(fp);
  }
  m.sklearn_aupr_out = pr_area(tps_out, fps_out);

  // OpenOOD's FPR@95: OOD positive with negated scores, the first roc_curve point (drop_intermediate) whose
  // TPR (OOD detected) reaches 0.95; its FPR is the fraction of in-distribution samples flagged as OOD.
  std::vector<double> neg_in(in.size()), neg_out(out.size());
  for (size_t i = 0; i < in.size(); ++i) neg_in[i] = -in[i];
  for (size_t i = 0; i < out.size(); ++i) neg_out[i] = -out[i];
  const RocCurve flipped = roc_from_groups(group_scores(neg_out, neg_in), true);
  for (size_t i = 0; i < flipped.tpr.size(); ++i)
    if (flipped.tpr[i] >= 0.95) {
      m.fpr_at_tpr95 = flipped.fpr[i];
      break;
    }
  return m;
}

OodMetrics ood_metrics(const std::vector<float>& in_scores, const std::vector<float>& out_scores) {
  return ood_metrics(to_double(in_scores), to_double(out_scores));
}

OodMetrics ood_metrics(const Tensor& in_scores, const Tensor& out_scores) {
  for (const Tensor* t : {&in_scores, &out_scores})
    DISMAX_CHECK(t->defined() && t->dim() == 1 && is_floating(t->dtype()),
                 "ood metrics: scores must be a floating (N) tensor, got ",
                 t->defined() ? t->describe() : std::string("an undefined tensor"));
  return ood_metrics(in_scores.to_vector<double>(), out_scores.to_vector<double>());
}

const std::vector<OodMetricField>& ood_metric_table() {
  static const std::vector<OodMetricField> table = {
      {"tnr_at_tpr95", "TNR at TPR 95", "calculate_log: 1 - FPR where TPR is nearest 0.95", true, true,
       &OodMetrics::tnr_at_tpr95},
      {"auroc", "AUROC", "calculate_log staircase, ties against the detector", true, true, &OodMetrics::auroc},
      {"detection_accuracy", "DTACC", "calculate_log: max (TPR + TNR) / 2", true, true,
       &OodMetrics::detection_accuracy},
      {"aupr_in", "AUPR-in", "calculate_log: in-distribution positive", true, true, &OodMetrics::aupr_in},
      {"aupr_out", "AUPR-out", "calculate_log: OOD positive", true, true, &OodMetrics::aupr_out},
      {"fpr_at_tpr95", "FPR at TPR 95", "OpenOOD: OOD positive, first ROC point with TPR >= 0.95", false, true,
       &OodMetrics::fpr_at_tpr95},
      {"sklearn_auroc", "AUROC (sklearn)", "roc_auc_score, ties count one half", true, false,
       &OodMetrics::sklearn_auroc},
      {"sklearn_aupr_in", "AUPR-in (sklearn)", "auc(recall, precision), in-distribution positive", true, false,
       &OodMetrics::sklearn_aupr_in},
      {"sklearn_aupr_out", "AUPR-out (sklearn)", "auc(recall, precision), OOD positive", true, false,
       &OodMetrics::sklearn_aupr_out},
      {"tpr_at_fpr5", "TPR at FPR 5", "roc_curve: TPR where FPR is nearest 0.05", true, false,
       &OodMetrics::tpr_at_fpr5},
  };
  return table;
}

}  // namespace dismax
