#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <unistd.h>

#include "engine/autograd/node.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "experiment/model_with_loss.h"
#include "losses/criteria.h"
#include "losses/heads.h"
#include "losses/scores.h"
#include "losses/thresholds.h"
#include "tests/gradcheck.h"

using namespace dismax;

namespace {

const TensorFile& fixtures() {
  static const TensorFile f = load_safetensors(std::string(DISMAX_FIXTURE_DIR) + "/losses.safetensors");
  return f;
}

void check_values(const std::string& what, const Tensor& actual, const std::vector<double>& expected, double tol) {
  const auto a = actual.to_vector<double>();
  REQUIRE_MESSAGE(a.size() == expected.size(), what);
  for (size_t i = 0; i < a.size(); ++i) CHECK_MESSAGE(a[i] == doctest::Approx(expected[i]).epsilon(tol), what << "[" << i << "]");
}

void check_close(const std::string& what, const Tensor& actual, const Tensor& expected, double tol) {
  REQUIRE_MESSAGE(actual.sizes() == expected.sizes(), what << ": " << shape_str(actual.sizes()) << " vs "
                                                          << shape_str(expected.sizes()));
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double scale = 1e-3;
  for (double v : e) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::abs(a[i] - e[i]) <= tol * scale)) {
      FAIL_CHECK(what << "[" << i << "] = " << a[i] << ", PyTorch " << e[i]);
      return;
    }
}

// The SPEC §8.4 inputs: features (1,2,2), (0,3,4); prototypes (1,0,0), (0,1,0); targets (0, 1).
const Tensor kFeatures = Tensor::from_vector<float>({1, 2, 2, 0, 3, 4}, {2, 3});
const Tensor kPrototypes = Tensor::from_vector<float>({1, 0, 0, 0, 1, 0}, {2, 3});
const Tensor kTargets = Tensor::from_vector<int64_t>({0, 1}, {2});

template <class H>
std::shared_ptr<H> spec_head(Generator& gen, double scale) {
  auto head = std::make_shared<H>(3, 2, gen);
  NoGradGuard guard;
  head->prototypes.copy_(kPrototypes);
  head->distance_scale.fill_(scale);
  return head;
}

}  // namespace

TEST_CASE("SPEC 8.4 reference vectors: DisMax logits, losses and scores") {
  Generator gen(0);
  auto head = spec_head<DisMaxHead>(gen, 1.0);
  DisMaxLoss loss(head, {});
  const Tensor z = head->forward(kFeatures);
  check_values("dismax logits", z, {-1.513420, -1.274274, -1.816228, -1.448683}, 1e-5);
  CHECK(loss(z, kTargets).item() == doctest::Approx(1.252017).epsilon(1e-5));
  head->eval();
  CHECK(loss(head->forward(kFeatures), kTargets).item() == doctest::Approx(0.673010).epsilon(1e-5));
  CHECK(head->validationset_available.item() == 1.0);
  check_values("MPS", compute_score(z, Score::MPS), {0.559503, 0.590866}, 1e-5);
  check_values("ES", compute_score(z, Score::ES), {-0.686049, -0.676542}, 1e-5);
  check_values("MDS", compute_score(z, Score::MDS), {-1.274274, -1.448683}, 1e-5);
  check_values("MMLS", compute_score(z, Score::MMLS), {-2.668121, -3.081139}, 1e-5);
  check_values("MMLES", compute_score(z, Score::MMLES), {-3.354170, -3.757681}, 1e-5);
  check_values("MMLEPS", compute_score(z, Score::MMLEPS), {-2.794666, -3.166815}, 1e-5);

  auto negative = spec_head<DisMaxHead>(gen, -2.0);  // |s| = 2 is used
  DisMaxLoss loss2(negative, {});
  const Tensor z2 = negative->forward(kFeatures);
  check_values("dismax s=-2 logits", z2, {-3.026840, -2.548547, -3.632456, -2.897367}, 1e-5);
  CHECK(loss2(z2, kTargets).item() == doctest::Approx(2.395952).epsilon(1e-5));
  negative->eval();
  CHECK(loss2(negative->forward(kFeatures), kTargets).item() == doctest::Approx(0.676150).epsilon(1e-5));
}

TEST_CASE("SPEC 8.4 reference vectors: IsoMax+ and IsoMax") {
  Generator gen(0);
  auto plus = spec_head<IsoMaxPlusHead>(gen, 1.0);
  IsoMaxLoss plus_loss(plus);
  const Tensor zp = plus->forward(kFeatures);
  check_values("isomax+ logits", zp, {-1.154701, -0.816497, -1.414214, -0.894427}, 1e-5);
  CHECK(plus_loss(zp, kTargets).item() == doctest::Approx(1.710483).epsilon(1e-5));
  auto iso = std::make_shared<IsoMaxHead>(3, 2);
  {
    NoGradGuard guard;
    iso->prototypes.copy_(kPrototypes);
  }
  IsoMaxLoss iso_loss(iso);
  const Tensor zi = iso->forward(kFeatures);
  check_values("isomax logits", zi, {-2.828427, -2.449490, -5.099020, -4.472136}, 1e-5);
  CHECK(iso_loss(zi, kTargets).item() == doctest::Approx(1.906812).epsilon(1e-5));
}

TEST_CASE("SPEC 8.4 reference vectors: FPR targets and loss") {
  check_values("fpr targets", fpr_targets({2, 0, 2, 1, 1}, 3),
               {0, .5, .5, .25, .5, .25, .25, .25, .5, .25, .25, .5, .25, .5, .25}, 1e-7);
  const Tensor logits = Tensor::from_vector<float>(
      {-1.0f, -1.2f, -1.5f, -1.3f, -1.1f, -1.4f, -1.2f, -1.25f, -1.3f, -1.5f, -1.1f, -1.15f}, {4, 3});
  const Tensor targets = Tensor::from_vector<int64_t>({0, 1, 2, 1}, {4});
  check_values("second-half targets", fpr_targets({2, 1}, 3), {0, .5, .5, 0, .5, .5}, 1e-7);
  CHECK(fpr_loss(logits, targets, 10.0, 1.0, Numerics::Literal).item() == doctest::Approx(0.270520).epsilon(1e-5));
  // L = (L_ce + L_kl) / 2 with L_ce = 0.151346 and L_kl = 0.389694: alpha = 0 isolates L_ce.
  CHECK(fpr_loss(logits, targets, 10.0, 0.0, Numerics::Literal).item() == doctest::Approx(0.151346 / 2).epsilon(1e-5));
  // Rows sum to one; with C = 10 about half the rows hold an entry >= 0.5 (SPEC 8.3).
  Generator gen(4);
  std::vector<int64_t> labels(4000);
  for (auto& l : labels) l = static_cast<int64_t>(gen.next_below(10));
  const auto t = fpr_targets(labels, 10).to_vector<float>();
  int heavy = 0;
  for (size_t m = 0; m < labels.size(); ++m) {
    float row = 0, top = 0;
    for (int c = 0; c < 10; ++c) {
      row += t[m * 10 + c];
      top = std::max(top, t[m * 10 + c]);
    }
    CHECK(row == doctest::Approx(1.0));
    heavy += top >= 0.5f;
  }
  CHECK(std::abs(heavy / 4000.0 - 0.496) < 0.03);
}

TEST_CASE("every loss matches PyTorch for batch sizes 1 to 9, with and without FPR") {
  const std::vector<std::string> names = {"softmax", "isomax", "isomaxplus", "dismax", "dismax_eval",
                                          "dismax_fpr", "dismax_fpr_0.5", "dismax_fpr_0.25"};
  for (const auto& name : names) {
    for (int B = 1; B <= 9; ++B) {
      const std::string key = name + ".b" + std::to_string(B);
      CAPTURE(key);
      const bool eval = name == "dismax_eval";
      const LossSpec spec = parse_loss(eval ? "dismax" : name);
      Generator gen(1);
      auto head = make_head(spec.family, 6, 5, gen);
      auto criterion = make_criterion(spec, head);
      NamedTensors params;
      for (const char* p : {"weights", "bias", "prototypes", "distance_scale"})
        if (fixtures().contains(key + "." + p)) params.emplace_back(p, fixtures().at(key + "." + p));
      head->load_state_dict(params, false);
      if (eval) head->eval();
      Tensor features = fixtures().at(key + ".features").clone().set_requires_grad(true);
      Tensor z = head->forward(features);
      check_close("logits", z, fixtures().at(key + ".logits"), 1e-5);
      Tensor loss = criterion->forward(z, fixtures().at(key + ".targets"));
      check_close("loss", loss.reshape({1}), fixtures().at(key + ".loss"), 1e-5);
      loss.backward();
      check_close("grad features", features.grad(), fixtures().at(key + ".grad.features"), 1e-4);
      for (auto& [pname, p] : head->named_parameters())
        if (fixtures().contains(key + ".grad." + pname))
          check_close("grad " + pname, p.grad(), fixtures().at(key + ".grad." + pname), 1e-4);
    }
  }
}

TEST_CASE("FPR quadrant mixing matches PyTorch, small and odd halves included") {
  for (int B : {1, 2, 5, 8, 9}) {
    CAPTURE(B);
    const std::string key = "fpr_mix.b" + std::to_string(B);
    CHECK(fpr_mix(fixtures().at(key + ".input")).to_vector<float>() == fixtures().at(key + ".output").to_vector<float>());
  }
}

TEST_CASE("SPEC 1.6.1 worked example: quadrant sources for n2 = 4") {
  // Second half of 4 images whose pixels equal their local index: local sample 0 takes TL from 0,
  // BL from 3, TR from 2, BR from 1.
  Tensor x = Tensor::empty({8, 1, 2, 2});
  {
    float* p = x.data<float>();
    for (int i = 0; i < 8; ++i)
      for (int k = 0; k < 4; ++k) p[i * 4 + k] = static_cast<float>(i >= 4 ? i - 4 : 100 + i);
  }
  const auto out = fpr_mix(x).to_vector<float>();
  CHECK(out[4 * 4 + 0] == 0);  // top-left
  CHECK(out[4 * 4 + 2] == 3);  // bottom-left (row 1, col 0)
  CHECK(out[4 * 4 + 1] == 2);  // top-right (row 0, col 1)
  CHECK(out[4 * 4 + 3] == 1);  // bottom-right
  CHECK(out[0] == 100);        // the first half is untouched
}

TEST_CASE("DisMax preprocess shuffles always and keeps pairs aligned") {
  Generator gen(0), shuffle(5);
  auto head = std::make_shared<DisMaxHead>(4, 3, gen);
  DisMaxLoss loss(head, {});
  Tensor x = Tensor::arange(6).reshape({6, 1, 1, 1});
  Tensor y = Tensor::from_vector<int64_t>({0, 1, 2, 3, 4, 5}, {6});
  auto [xs, ys] = loss.preprocess(x, y, shuffle);
  const auto xv = xs.reshape({-1}).to_vector<float>();
  const auto yv = ys.to_vector<int64_t>();
  CHECK(yv != std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  for (int i = 0; i < 6; ++i) CHECK(xv[i] == static_cast<float>(yv[i]));
}

TEST_CASE("finite-difference checks of every criterion and head") {
  const Tensor targets = Tensor::from_vector<int64_t>({2, 0, 1, 2, 4, 3, 0}, {7});
  const auto logits = testing::randn64({7, 5}, 3, 0.5, -1.0);
  for (const char* name : {"softmax", "isomax", "isomaxplus", "dismax", "dismax_fpr", "dismax_fpr_0.5", "logitnorm",
                           "logitnorm_0.5"}) {
    for (Numerics numerics : {Numerics::Literal, Numerics::Fused}) {
      LossSpec spec = parse_loss(name);
      spec.numerics = numerics;
      Generator gen(2);
      auto head = make_head(spec.family, 4, 5, gen);
      head->to(DType::Float64);
      auto criterion = make_criterion(spec, head);
      testing::check_gradients(std::string(name) + " criterion", [&](auto& v) { return criterion->forward(v[0], targets); },
                               {logits});
      testing::check_gradients(std::string(name) + " head", [&](auto& v) { return head->forward(v[0]); },
                               {testing::randn64({7, 4}, 4)});
      head->eval();
      testing::check_gradients(std::string(name) + " eval", [&](auto& v) { return criterion->forward(v[0], targets); },
                               {logits});
    }
  }
}

TEST_CASE("LogitNorm: cross-entropy of z / (t (||z|| + 1e-7)) on a SoftMax head; its strings and metadata") {
  const std::vector<double> z = {1.5, -0.5, 2.0, 0.25, -3.0, 0.5};  // two rows of three
  const std::vector<int64_t> y = {2, 0};
  for (double t : {0.04, 0.5}) {
    double expected = 0;
    for (int r = 0; r < 2; ++r) {
      double norm = 0;
      for (int j = 0; j < 3; ++j) norm += z[r * 3 + j] * z[r * 3 + j];
      const double scale = 1.0 / (t * (std::sqrt(norm) + 1e-7));
      double top = -1e300, total = 0;
      for (int j = 0; j < 3; ++j) top = std::max(top, z[r * 3 + j] * scale);
      for (int j = 0; j < 3; ++j) total += std::exp(z[r * 3 + j] * scale - top);
      expected += -(z[r * 3 + y[r]] * scale - top - std::log(total)) / 2;
    }
    LossSpec spec = parse_loss(t == 0.04 ? "logitnorm" : "logitnorm_0.5");
    CHECK(spec.logitnorm_t == t);
    CHECK(spec.head_family() == "softmax");
    Generator gen(3);
    auto head = make_head(spec.family, 4, 3, gen);
    CHECK(head->loss_name() == "softmax");
    auto criterion = make_criterion(spec, head);
    CHECK(criterion->describe() == spec.str());
    const Tensor loss = criterion->forward(Tensor::from_vector(z, {2, 3}), Tensor::from_vector(y, {2}));
    CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-12));
  }
  CHECK(parse_loss("logitnorm_0.1").str() == "logitnorm_0.1");
  LossSpec precise = parse_loss("logitnorm");
  precise.logitnorm_t = 0.0123456789;
  CHECK(parse_loss(precise.str()).logitnorm_t == 0.0123456789);
  {  // an all-zero row of logits has a finite gradient
    Generator gen(4);
    auto criterion = make_criterion(parse_loss("logitnorm"), make_head("logitnorm", 4, 3, gen));
    Tensor zero = Tensor::zeros({1, 3}, DType::Float64).set_requires_grad(true);
    criterion->forward(zero, Tensor::from_vector<int64_t>({1}, {1})).backward();
    for (double g : zero.grad().to_vector<double>()) CHECK(std::isfinite(g));
  }
  CHECK_THROWS_WITH_AS(parse_loss("logitnorm_x"), doctest::Contains("logitnorm takes one part"), Error);
  CHECK_THROWS_WITH_AS(parse_loss("logitnorm_0"), doctest::Contains("logitnorm"), Error);
  CHECK(recommended_scores("logitnorm") == std::vector<Score>{Score::MPS});
}

TEST_CASE("sanity at initialisation: loss near ln C, DisMax logits near -2 (SPEC 8.3)") {
  Generator gen(7);
  const int64_t C = 10, F = 512, B = 64;
  // Non-negative features, as after ReLU and pooling.
  const Tensor features = abs(Tensor::randn({B, F}, gen));
  std::vector<int64_t> labels(B);
  for (int64_t i = 0; i < B; ++i) labels[i] = i % C;
  const Tensor targets = Tensor::from_vector(labels, {B});
  for (const char* name : {"softmax", "isomax", "isomaxplus", "dismax", "dismax_fpr"}) {
    const std::string loss_name = name;
    CAPTURE(loss_name);
    const LossSpec spec = parse_loss(name);
    auto head = make_head(spec.family, F, C, gen);
    auto criterion = make_criterion(spec, head);
    const double loss = criterion->forward(head->forward(features), targets).item();
    MESSAGE(loss_name << " initial loss " << loss << " (ln C = " << std::log(10.0) << ")");
    double expected = std::log(10.0);
    if (spec.fpr) {  // (L_ce + KL(t || uniform)) / 2, KL = ln C + sum t ln t for the mixed second half
      const std::vector<int64_t> second(labels.begin() + B / 2, labels.end());
      const auto t = fpr_targets(second, C).to_vector<float>();
      double kl = 0;
      for (float v : t)
        if (v > 0) kl += v * std::log(v);
      expected = (std::log(10.0) + std::log(10.0) + kl / static_cast<double>(second.size())) / 2;
    }
    CHECK(std::abs(loss - expected) < (spec.family == "softmax" ? 0.3 : 0.05));
    if (spec.family == "isomax") CHECK(loss == doctest::Approx(std::log(10.0)).epsilon(1e-6));  // exactly ln C
  }
  auto dm = std::make_shared<DisMaxHead>(F, C, gen);
  for (float z : dm->forward(features).to_vector<float>()) CHECK(std::abs(z + 2.0f) < 0.3f);
}

TEST_CASE("literal and fused numerics agree where nothing underflows, and differ where it does") {
  const Tensor z = Tensor::from_vector<float>({-0.1f, -0.5f, -0.9f, -0.2f}, {2, 2});
  const Tensor y = Tensor::from_vector<int64_t>({0, 1}, {2});
  CHECK(target_log_probabilities(z, y, 10.0, Numerics::Literal).to_vector<float>()[0] ==
        doctest::Approx(target_log_probabilities(z, y, 10.0, Numerics::Fused).to_vector<float>()[0]).epsilon(1e-5));
  const Tensor far = Tensor::from_vector<float>({0.0f, -20.0f}, {1, 2});  // E * gap = 200: q underflows to 0
  const Tensor y1 = Tensor::from_vector<int64_t>({1}, {1});
  CHECK(std::isinf(target_log_probabilities(far, y1, 10.0, Numerics::Literal).item()));
  CHECK(target_log_probabilities(far, y1, 10.0, Numerics::Fused).item() == doctest::Approx(-200.0));
  // The KL term skips zero targets, so an underflowed q at a zero-target class gives no NaN.
  const Tensor batch = Tensor::from_vector<float>({0.0f, -20.0f, 0.0f, -20.0f}, {2, 2});
  const Tensor t0 = Tensor::from_vector<int64_t>({0, 0}, {2});
  CHECK(std::isfinite(fpr_loss(batch, t0, 10.0, 1.0, Numerics::Literal).item()));
}

TEST_CASE("loss strings of the original code and of the library") {
  CHECK(parse_loss("softmax_std_std_std").str() == "softmax");
  CHECK(parse_loss("isomaxplus_std_std_std").str() == "isomaxplus");
  CHECK(parse_loss("dismax_std_std_std").str() == "dismax");
  CHECK(parse_loss("dismax_std_std_noreg").str() == "dismax");
  CHECK(parse_loss("dismax_std_std_fpr").str() == "dismax_fpr");
  CHECK(parse_loss("dismax_std_std_0.5").alpha == 0.5);
  CHECK(parse_loss("dismax_std_std_0.25").alpha == 0.25);
  CHECK(parse_loss("dismax_fpr").fpr);
  CHECK(!parse_loss("dismax_none").fpr);
  CHECK(parse_loss("softmax_none").family == "softmax");
  CHECK(parse_loss("dismax_fpr_0.5").alpha == 0.5);
  CHECK_THROWS_WITH_AS(parse_loss("focal"), doctest::Contains("invalid loss 'focal'"), Error);
}

TEST_CASE("scores: names, recommended sets, energy and safe entropy") {
  CHECK(parse_score("mmles") == Score::MMLES);
  CHECK(parse_score("Energy") == Score::Energy);
  CHECK_THROWS_WITH_AS(parse_score("odin"), doctest::Contains("unknown score 'odin'"), Error);
  CHECK(recommended_scores("dismax") == std::vector<Score>{Score::MMLES, Score::MPS});
  const Tensor z = Tensor::from_vector<float>({1, 2, 3}, {1, 3});
  CHECK(compute_score(z, Score::Energy).item() == doctest::Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
  const Tensor extreme = Tensor::from_vector<float>({0, -200}, {1, 2});
  CHECK(std::isnan(compute_score(extreme, Score::ES, Numerics::Literal).item()));  // 0 * log 0, as the original
  CHECK(compute_score(extreme, Score::ES, Numerics::Fused).item() == doctest::Approx(0.0));
}

TEST_CASE("thresholds: NumPy percentiles stored in the DisMax head") {
  CHECK(percentiles({1, 2, 3, 4}, {0, 50, 100, 10}) == std::vector<double>{1, 2.5, 4, 1.3});
  Generator gen(0);
  auto head = std::make_shared<DisMaxHead>(4, 3, gen);
  CHECK(std::isnan(head->precomputed_thresholds.to_vector<float>()[0]));
  ThresholdAccumulator acc;
  acc.add(Tensor::arange(101));
  acc.store(*head, 1);
  const auto t = head->precomputed_thresholds.to_vector<float>();
  CHECK(t[25 + 0] == 0.0f);
  CHECK(t[25 + 6] == 1.0f);
  CHECK(t[25 + 24] == 100.0f);
  CHECK(std::isnan(t[0]));
}

TEST_CASE("one call turns a model into a DisMax model, and a checkpoint rebuilds it from metadata alone") {
  Generator gen(3);
  const ModelConfig config{3, 0.25};
  auto model = make_model("resnet34", 10, gen, config);
  auto criterion = attach_loss(*model, parse_loss("dismax_fpr"), gen);
  CHECK(model->head().type_name() == "DisMaxLossFirstPart");
  CHECK(criterion->describe() == "dismax_fpr");
  const std::string path = "/tmp/dismax_losses_test_" + std::to_string(::getpid()) + ".safetensors";
  save_checkpoint(path, *model, model_metadata(*model, parse_loss("dismax_fpr"), config));
  LoadedModel loaded = load_model(path);
  CHECK(loaded.loss.str() == "dismax_fpr");
  CHECK(loaded.model->arch() == "resnet34");
  model->eval();
  NoGradGuard guard;
  const Tensor x = Tensor::randn({2, 3, 32, 32}, gen);
  CHECK(model->forward(x).to_vector<float>() == loaded.model->forward(x).to_vector<float>());
  std::remove(path.c_str());
}

TEST_CASE("a checkpoint written by PyTorch with dismax's metadata loads and evaluates with no other input") {
  const std::string dir = DISMAX_FIXTURE_DIR;
  LoadedModel loaded = load_model(dir + "/torch_checkpoint.safetensors");
  CHECK(loaded.model->arch() == "resnet20");
  CHECK(loaded.loss.family == "dismax");
  CHECK(loaded.model->head().type_name() == "DisMaxLossFirstPart");
  CHECK(!loaded.model->is_training());
  const TensorFile io = load_safetensors(dir + "/torch_checkpoint_io.safetensors");
  NoGradGuard guard;
  const auto ours = loaded.model->forward(io.at("input")).to_vector<double>();
  const auto torch_logits = io.at("logits").to_vector<double>();
  REQUIRE(ours.size() == torch_logits.size());
  for (size_t i = 0; i < ours.size(); ++i) CHECK(ours[i] == doctest::Approx(torch_logits[i]).epsilon(1e-4));
}
