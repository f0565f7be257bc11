// The post-hoc OOD methods against tests/reference/make_posthoc_fixtures.py (OpenOOD v1.5's postprocessors
// ported to NumPy / scikit-learn / PyTorch): per-sample scores within 1e-4 relative, metrics within 1e-6.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/grad_mode.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "layers/basic.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "losses/heads.h"
#include "metrics/ood.h"
#include "posthoc/method.h"
#include "posthoc/odin.h"

using namespace dismax;

namespace {

const TensorFile& fixtures() {
  static const TensorFile f = load_safetensors(std::string(DISMAX_FIXTURE_DIR) + "/posthoc.safetensors");
  return f;
}
const Tensor& fixture(const std::string& name) { return fixtures().at(name); }

FeatureSet set_of(const std::string& part) {
  FeatureSet s{fixture(part + ".features"), fixture(part + ".logits"), Tensor()};
  if (part == "train") s.labels = fixture("train.labels");
  return s;
}

std::shared_ptr<SoftMaxHead> fixture_head() {
  Generator gen(0);
  const Tensor& w = fixture("head.weights");
  auto head = std::make_shared<SoftMaxHead>(w.size(1), w.size(0), gen);
  NoGradGuard no_grad;
  head->weights.copy_(w);
  head->bias.copy_(fixture("head.bias"));
  return head;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double rtol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]) / std::max(1.0, std::abs(want[i])));
  INFO(what << ": worst relative difference " << worst);
  CHECK(worst <= rtol);
}

PosthocOptions fixture_options() {
  PosthocOptions o;
  o.knn_k = 5;
  o.vim_dim = 8;
  return o;
}

}  // namespace

TEST_CASE("post-hoc methods match OpenOOD's postprocessors: scores within 1e-4, metrics within 1e-6") {
  auto head = fixture_head();
  const FeatureSet train = set_of("train"), test = set_of("test"), ood = set_of("ood");
  for (const std::string name : {"gen", "mahalanobis", "knn", "react", "ash-s", "ash-b", "vim"}) {
    CAPTURE(name);
    auto method = make_posthoc_method(name, *head, fixture_options());
    CHECK(method->name() == name);
    CHECK(method->undefined_reason().empty());
    if (method->needs_training_features()) method->fit(train);
    const auto in = method->score(test).to_vector<double>();
    const auto out = method->score(ood).to_vector<double>();
    check_close(in, fixture(name + ".test").to_vector<double>(), 1e-4, name + " in-distribution scores");
    check_close(out, fixture(name + ".ood").to_vector<double>(), 1e-4, name + " OOD scores");
    const OodMetrics m = ood_metrics(in, out);
    CHECK(m.sklearn_auroc == doctest::Approx(fixture(name + ".auroc").item()).epsilon(1e-6));
    CHECK(m.sklearn_aupr_in == doctest::Approx(fixture(name + ".aupr_in").item()).epsilon(1e-6));
    CHECK(m.sklearn_aupr_out == doctest::Approx(fixture(name + ".aupr_out").item()).epsilon(1e-6));
    CHECK(m.fpr_at_tpr95 == doctest::Approx(fixture(name + ".fpr_at_tpr95").item()).epsilon(1e-6));
  }
}

TEST_CASE("post-hoc methods: names, fitting order, heads they are not defined for") {
  auto head = fixture_head();
  CHECK(canonical_method_name("MSP") == "MPS");
  CHECK(canonical_method_name("Energy") == "energy");
  CHECK(canonical_method_name("ASH_S") == "ash-s");
  CHECK(canonical_method_name("ebo") == "energy");
  CHECK_THROWS_WITH_AS(canonical_method_name("ash"), doctest::Contains("ambiguous"), Error);
  CHECK_THROWS_WITH_AS(canonical_method_name("mahalanobys"), doctest::Contains("known: MPS"), Error);
  CHECK_THROWS_WITH_AS(make_posthoc_method("odin", *head), doctest::Contains("input gradient"), Error);
  auto knn = make_posthoc_method("knn", *head, fixture_options());
  CHECK_THROWS_WITH_AS(knn->score(set_of("test")), doctest::Contains("training features"), Error);
  PosthocOptions too_many;
  too_many.knn_k = 1000;
  CHECK_THROWS_WITH_AS(make_posthoc_method("knn", *head, too_many)->fit(set_of("train")),
                       doctest::Contains("--knn-k"), Error);
  // The head-output scores are the losses' own (MPS = max softmax).
  const auto mps = make_posthoc_method("msp", *head)->score(set_of("test")).to_vector<double>();
  const auto p = softmax(fixture("test.logits"), 1).to_vector<double>();
  CHECK(mps[0] == doctest::Approx(std::max({p[0], p[1], p[2], p[3]})));
  // ViM reads a linear head; a distance head has none.
  Generator gen(1);
  DisMaxHead dismax_head(16, 4, gen);
  auto vim = make_posthoc_method("vim", dismax_head, fixture_options());
  CHECK(vim->undefined_reason().find("not defined for this head") != std::string::npos);
  // ReAct and ASH work through any head, DisMax's included.
  auto react = make_posthoc_method("react", dismax_head, fixture_options());
  react->fit(set_of("train"));
  for (double v : react->score(set_of("ood")).to_vector<double>()) CHECK(std::isfinite(v));
}

TEST_CASE("ODIN matches OpenOOD's: input perturbed against the gradient sign over each channel's std") {
  Generator gen(0);
  auto linear = std::make_shared<Linear>(48, 4, gen);
  {
    NoGradGuard no_grad;
    linear->weight.copy_(fixture("odin.weight"));
    linear->bias.copy_(fixture("odin.bias"));
  }
  Sequential net({std::make_shared<Flatten>(), linear});
  net.eval();
  const auto std_values = fixture("odin.std").to_vector<float>();
  const auto got = odin_scores(net, fixture("odin.images"), std_values, 1000.0, 0.0014).to_vector<double>();
  check_close(got, fixture("odin.scores").to_vector<double>(), 1e-4, "ODIN scores");
  CHECK(!linear->weight.grad().defined());  // parameter gradients are left cleared
  CHECK_THROWS_WITH_AS(odin_scores(net, fixture("odin.images"), {0.5f}, 1000.0, 0.0014), doctest::Contains("std"),
                       Error);
}
