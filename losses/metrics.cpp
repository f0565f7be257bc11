#include "losses/metrics.h"

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

// ---------------------------------------------------------------------------------------------------------
// OOD detection

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

}  // namespace dismax
