#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "metrics/calibration.h"
#include "metrics/classification.h"
#include "metrics/ood.h"

using namespace dismax;

namespace {

const TensorFile& fixtures() {
  static const TensorFile f = load_safetensors(std::string(DISMAX_FIXTURE_DIR) + "/metrics.safetensors");
  return f;
}

std::vector<double> values(const std::string& name) { return fixtures().at(name).to_vector<double>(); }
double value(const std::string& name) { return fixtures().at(name).item(); }

Predictions fixture_predictions(const std::string& name) {
  return make_predictions(fixtures().at(name + ".logits"), fixtures().at(name + ".labels"));
}

// The SPEC §8.4 vectors.
const std::vector<double> kSpecIn = {0.9, 0.8, 0.4, 0.7};
const std::vector<double> kSpecOut = {0.5, 0.3, 0.85};
Predictions spec_ece_predictions() {
  return make_predictions({2, 0, 0, 0, 1, 0, 0.5, 0.4, 0, 3, 0, 1}, 3, {0, 1, 1, 2});
}

void check_ood_fields(const OodMetrics& m, const std::string& name, double tol) {
  const std::vector<std::pair<const char*, double>> fields = {{"auroc", m.auroc},
                                                              {"aupr_in", m.aupr_in},
                                                              {"aupr_out", m.aupr_out},
                                                              {"tnr_at_tpr95", m.tnr_at_tpr95},
                                                              {"detection_accuracy", m.detection_accuracy},
                                                              {"fpr_at_tpr95", m.fpr_at_tpr95},
                                                              {"sklearn_auroc", m.sklearn_auroc},
                                                              {"sklearn_aupr_in", m.sklearn_aupr_in},
                                                              {"sklearn_aupr_out", m.sklearn_aupr_out},
                                                              {"tpr_at_fpr5", m.tpr_at_fpr5}};
  for (const auto& entry : fields) {  // (no structured binding: clang's C++17 lambdas cannot capture one)
    const auto& field = entry.first;
    const auto& actual = entry.second;
    CHECK_MESSAGE(actual == doctest::Approx(value(name + "." + field)).epsilon(tol),
                  name << "." << field << " = " << actual << ", reference " << value(name + "." + field));
  }
}

}  // namespace

TEST_CASE("metrics: SPEC 8.4 calculate_log vector") {
  const CalculateLogCurve c = calculate_log_curve(kSpecIn, kSpecOut);
  CHECK(c.tp == std::vector<int64_t>{4, 4, 3, 3, 2, 1, 1, 0});
  CHECK(c.fp == std::vector<int64_t>{3, 2, 2, 1, 1, 1, 0, 0});
  const OodMetrics m = ood_metrics(kSpecIn, kSpecOut);
  CHECK(m.tnr_at_tpr95 == 0.0);
  CHECK(m.auroc == doctest::Approx(0.666667).epsilon(1e-5));
  CHECK(m.detection_accuracy == doctest::Approx(0.708333).epsilon(1e-5));
  CHECK(m.aupr_in == doctest::Approx(0.606250).epsilon(1e-5));
  CHECK(m.aupr_out == doctest::Approx(0.511111).epsilon(1e-5));
  CHECK(m.num_in == 4);
  CHECK(m.num_out == 3);
  CHECK(m.sklearn_auroc == doctest::Approx(8.0 / 12.0));  // no ties: both AUROCs agree
  // OOD positive: detecting 95% of the three OOD samples needs all three (down to 0.85), which also flags
  // the in-distribution 0.4, 0.7 and 0.8: FPR = 3/4.
  CHECK(m.fpr_at_tpr95 == doctest::Approx(0.75));
}

TEST_CASE("metrics: SPEC 8.4 ECE vector") {
  const Predictions p = spec_ece_predictions();
  CHECK(expected_calibration_error(p) == doctest::Approx(0.469720).epsilon(1e-5));
  CHECK(expected_calibration_error(p, 2.0) == doctest::Approx(0.491712).epsilon(1e-5));
  CHECK(top1_accuracy(p) == 0.5);
}

TEST_CASE("metrics: OOD metrics match scikit-learn and the original calculate_log on tied scores") {
  for (const char* name : {"ties", "coarse", "continuous"}) {
    CAPTURE(name);
    const auto in = values(std::string(name) + ".in"), out = values(std::string(name) + ".out");
    const OodMetrics m = ood_metrics(in, out);
    check_ood_fields(m, name, 1e-12);
    CHECK(m.nan_in == 0);
    CHECK(m.nan_out == 0);
    // The float and tensor overloads give the same numbers.
    const OodMetrics t =
        ood_metrics(fixtures().at(std::string(name) + ".in"), fixtures().at(std::string(name) + ".out"));
    CHECK(t.auroc == m.auroc);
    CHECK(t.sklearn_aupr_out == m.sklearn_aupr_out);
    const OodMetrics f = ood_metrics(fixtures().at(std::string(name) + ".in").to_vector<float>(),
                                     fixtures().at(std::string(name) + ".out").to_vector<float>());
    CHECK(f.fpr_at_tpr95 == m.fpr_at_tpr95);
  }
  // Ties count against the detector in the original AUROC and one half in sklearn's.
  const OodMetrics ties = ood_metrics(values("ties.in"), values("ties.out"));
  CHECK(ties.auroc < ties.sklearn_auroc - 1e-3);
}

TEST_CASE("metrics: calculate_log curve and ROC curve points") {
  const auto in = values("coarse.in"), out = values("coarse.out");
  const CalculateLogCurve c = calculate_log_curve(in, out);
  CHECK(c.tp == fixtures().at("coarse.tp").to_vector<int64_t>());
  CHECK(c.fp == fixtures().at("coarse.fp").to_vector<int64_t>());

  const RocCurve r = roc_curve(in, out);
  const auto fpr = values("coarse.roc_fpr"), tpr = values("coarse.roc_tpr"),
             thr = values("coarse.roc_thresholds");
  REQUIRE(r.fpr.size() == fpr.size());
  CHECK(std::isinf(r.thresholds[0]));
  for (size_t i = 0; i < fpr.size(); ++i) {
    CHECK(r.fpr[i] == doctest::Approx(fpr[i]).epsilon(1e-15));
    CHECK(r.tpr[i] == doctest::Approx(tpr[i]).epsilon(1e-15));
    if (i > 0) CHECK(r.thresholds[i] == thr[i - 1]);
  }
  // Without dropping: one point per distinct score plus (0, 0); ends at (1, 1).
  const RocCurve all = roc_curve(in, out, false);
  CHECK(all.fpr.size() >= r.fpr.size());
  CHECK(all.fpr.back() == 1.0);
  CHECK(all.tpr.back() == 1.0);
}

TEST_CASE("metrics: FPR at 95% TPR with OOD positive (OpenOOD), ties flagged together") {
  std::vector<double> out;
  for (int i = 1; i <= 20; ++i) out.push_back(i);  // detecting 19 of 20 OOD needs threshold 19 (score <= 19)
  CHECK(ood_metrics({30, 25, 19.5, 0.5}, out).fpr_at_tpr95 == 0.25);   // only 0.5 is flagged
  CHECK(ood_metrics({30, 19, 19, 0.5}, out).fpr_at_tpr95 == 0.75);     // ties with the threshold are flagged
  CHECK(ood_metrics({30, 40, 50, 60}, out).fpr_at_tpr95 == 0.0);
}

TEST_CASE("metrics: NaN scores count as the most OOD value") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<double> in = {0.9, nan, 0.4, 0.7, 0.6}, out = {0.5, nan, 0.85, nan};
  const OodMetrics m = ood_metrics(in, out);
  CHECK(m.nan_in == 1);
  CHECK(m.nan_out == 2);
  for (const double stand_in : {-inf, -1e30}) {
    std::vector<double> a = in, b = out;
    for (auto* v : {&a, &b})
      for (double& x : *v)
        if (std::isnan(x)) x = stand_in;
    const OodMetrics r = ood_metrics(a, b);
    CHECK(r.auroc == m.auroc);
    CHECK(r.aupr_in == m.aupr_in);
    CHECK(r.aupr_out == m.aupr_out);
    CHECK(r.tnr_at_tpr95 == m.tnr_at_tpr95);
    CHECK(r.detection_accuracy == m.detection_accuracy);
    CHECK(r.fpr_at_tpr95 == m.fpr_at_tpr95);
    CHECK(r.sklearn_auroc == m.sklearn_auroc);
    CHECK(r.sklearn_aupr_in == m.sklearn_aupr_in);
    CHECK(r.sklearn_aupr_out == m.sklearn_aupr_out);
    CHECK(r.tpr_at_fpr5 == m.tpr_at_fpr5);
    CHECK(r.nan_in == 0);
  }
  const RocCurve roc = roc_curve(in, out);
  for (size_t i = 0; i < roc.fpr.size(); ++i) CHECK(!std::isnan(roc.fpr[i] + roc.tpr[i] + roc.thresholds[i]));
}

TEST_CASE("metrics: OOD input errors name what is wrong") {
  CHECK_THROWS_WITH_AS(ood_metrics(std::vector<double>{}, std::vector<double>{1.0}),
                       "ood metrics: no in-distribution scores", Error);
  CHECK_THROWS_WITH_AS(ood_metrics(std::vector<double>{1.0}, std::vector<double>{}),
                       "ood metrics: no out-of-distribution scores", Error);
  CHECK_THROWS_AS(ood_metrics(Tensor::zeros({2, 2}), Tensor::zeros({3})), Error);
  CHECK_THROWS_AS(ood_metrics(Tensor::zeros({3}, DType::Int64), Tensor::zeros({3})), Error);
}

TEST_CASE("metrics: classification and calibration errors match NumPy") {
  for (const char* name : {"calib", "overconfident", "tiny"}) {
    CAPTURE(name);
    const std::string n = name;
    const Predictions p = fixture_predictions(n);
    CHECK(top1_accuracy(p) == value(n + ".accuracy"));
    const auto taus = values(n + ".taus");
    for (size_t k = 0; k < taus.size(); ++k) {
      const double t = taus[k];
      CAPTURE(t);
      const auto ref = [&](const char* what) { return values(n + "." + what)[k]; };
      CHECK(expected_calibration_error(p, t) == doctest::Approx(ref("ece")).epsilon(1e-10));
      CHECK(maximum_calibration_error(p, t) == doctest::Approx(ref("mce")).epsilon(1e-10));
      CHECK(overconfidence_error(p, t) == doctest::Approx(ref("oe")).epsilon(1e-10).scale(1));
      CHECK(static_calibration_error(p, t) == doctest::Approx(ref("sce")).epsilon(1e-10));
      CHECK(thresholded_adaptive_calibration_error(p, t) == doctest::Approx(ref("tace")).epsilon(1e-10));
      CHECK(adaptive_calibration_error(p, t) == doctest::Approx(ref("ace")).epsilon(1e-10));
      CHECK(negative_log_likelihood(p, t) == doctest::Approx(ref("nll")).epsilon(1e-10));
      const ClassificationMetrics m = classification_metrics(p, t);
      CHECK(m.count == p.size());
      CHECK(m.accuracy == value(n + ".accuracy"));
      CHECK(m.ece == doctest::Approx(ref("ece")).epsilon(1e-10));
      CHECK(m.mce == doctest::Approx(ref("mce")).epsilon(1e-10));
      CHECK(m.oe == doctest::Approx(ref("oe")).epsilon(1e-10).scale(1));
      CHECK(m.tace == doctest::Approx(ref("tace")).epsilon(1e-10));
      CHECK(m.nll == doctest::Approx(ref("nll")).epsilon(1e-10));
      CHECK(m.mean_max_probability == doctest::Approx(ref("max_p")).epsilon(1e-10));
      CHECK(m.mean_normalized_entropy == doctest::Approx(ref("entropy")).epsilon(1e-10));
      CHECK(m.std_max_probability > 0);
    }
  }
}

TEST_CASE("metrics: prediction input errors name what is wrong") {
  CHECK_THROWS_WITH_AS(make_predictions({1, 2, 3, 4}, 2, {0, 2}),
                       "predictions: label 2 of sample 1 is outside [0, 2)", Error);
  CHECK_THROWS_AS(make_predictions({1, 2, 3}, 2, {0, 1}), Error);
  CHECK_THROWS_AS(make_predictions({1, NAN, 3, 4}, 2, {0, 1}), Error);
  CHECK_THROWS_AS(make_predictions(Tensor::zeros({2, 3}), Tensor::zeros({2})), Error);  // float labels
  CHECK_THROWS_AS(make_predictions(Tensor::zeros({2, 3}), Tensor::zeros({3}, DType::Int64)), Error);
  CHECK_THROWS_AS(expected_calibration_error(spec_ece_predictions(), 0.0), Error);
  CHECK_THROWS_AS(expected_calibration_error(spec_ece_predictions(), 1.0, 0), Error);
}

TEST_CASE("calibration: ECE temperature is at least as good as a dense grid and L-BFGS-B") {
  for (const char* name : {"calib", "overconfident", "tiny"}) {
    CAPTURE(name);
    const std::string n = name;
    const Predictions p = fixture_predictions(n);
    const CalibrationResult r = calibrate_temperature(p);
    CAPTURE(r.temperature);
    CAPTURE(r.after);
    CHECK(r.before == doctest::Approx(values(n + ".ece")[0]).epsilon(1e-10));
    CHECK(r.after == expected_calibration_error(p, r.temperature));
    CHECK(r.after <= r.before);
    CHECK(r.after <= value(n + ".lbfgsb_ece") + 1e-12);
    // NumPy's 20001-point grid over [0.001, 100] (0.06% apart): ours is no worse, except on 10 samples
    // where ECE(tau) is all jumps and the best coarse-grid basin (0.099) is not the global one (0.064).
    if (n != "tiny") CHECK(r.after <= value(n + ".dense_min_ece") + 1e-12);
    CHECK(!r.at_bound);
    // Deterministic.
    CHECK(calibrate_temperature(p).temperature == r.temperature);
  }
  const CalibrationResult over = calibrate_temperature(fixture_predictions("overconfident"));
  CHECK(over.temperature > 1.0);
  const CalibrationResult under = calibrate_temperature(fixture_predictions("calib"));
  CHECK(under.temperature < 1.0);
}

TEST_CASE("calibration: NLL temperature matches SciPy's bounded minimisation") {
  for (const char* name : {"calib", "overconfident", "tiny"}) {
    CAPTURE(name);
    const std::string n = name;
    CalibrationOptions o;
    o.objective = CalibrationObjective::NLL;
    const CalibrationResult r = calibrate_temperature(fixture_predictions(n), o);
    CHECK(r.temperature == doctest::Approx(value(n + ".nll_tau")).epsilon(1e-6));
    CHECK(r.after == doctest::Approx(value(n + ".nll_min")).epsilon(1e-12));
    CHECK(r.after <= value(n + ".nll_min") + 1e-14);
    CHECK(r.before == doctest::Approx(values(n + ".nll")[0]).epsilon(1e-10));
    CHECK(!r.at_bound);
  }
  CalibrationOptions o;
  o.objective = parse_calibration_objective("nll");
  CHECK(calibrate_temperature(fixture_predictions("overconfident"), o).temperature > 1.0);
}

TEST_CASE("calibration: bounds are reported") {
  // Every sample right with a margin: NLL keeps falling as tau shrinks, so tau ends on the lower bound.
  const Predictions sure = make_predictions({3, 0, 0, 2, 1, 0, 0, 4}, 2, {0, 1, 0, 1});
  CalibrationOptions o;
  o.objective = CalibrationObjective::NLL;
  const CalibrationResult r = calibrate_temperature(sure, o);
  CHECK(r.temperature == 0.001);
  CHECK(r.at_bound);
  // Every sample wrong: the flattest softmax is best, tau on the upper bound.
  const Predictions wrong = make_predictions({3, 0, 0, 2, 1, 0, 0, 4}, 2, {1, 0, 1, 0});
  const CalibrationResult w = calibrate_temperature(wrong, o);
  CHECK(w.temperature == 100.0);
  CHECK(w.at_bound);
  const CalibrationResult e = calibrate_temperature(sure);  // ECE is 0 once every confidence reaches 1
  CHECK(e.after == doctest::Approx(0.0).scale(1).epsilon(1e-12));
  CHECK_THROWS_AS(parse_calibration_objective("brier"), Error);
  o.lower = 2;
  o.upper = 1;
  CHECK_THROWS_AS(calibrate_temperature(sure, o), Error);
}

TEST_CASE("calibration: tensor overloads") {
  const Tensor logits = Tensor::from_vector<float>({2, 0, 0, 0, 1, 0, 0.5f, 0.4f, 0, 3, 0, 1}, {4, 3});
  const Tensor labels = Tensor::from_vector<int64_t>({0, 1, 1, 2}, {4});
  const ClassificationMetrics m = classification_metrics(logits, labels);
  CHECK(m.ece == doctest::Approx(0.469720).epsilon(1e-5));
  const CalibrationResult r = calibrate_temperature(logits, labels);
  CHECK(r.after <= m.ece);
}
