// Narrow copies of each architecture against PyTorch (tests/reference/make_model_fixtures.py): the same
// weights give the same logits, loss, parameter gradients and BN running statistics, and three Nesterov
// SGD steps give the same weights (each step restarted from PyTorch's parameters, see the script).
#include <doctest/doctest.h>

#include <cmath>

#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "layers/sgd.h"
#include "models/model.h"

using namespace dismax;

namespace {

const TensorFile& fixtures() {
  static const TensorFile f = load_safetensors(std::string(DISMAX_FIXTURE_DIR) + "/models.safetensors");
  return f;
}

NamedTensors with_prefix(const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : fixtures().tensors)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// Deviations beyond 1e-6 are measured against the tensor's largest magnitude: per-element relative error
// is meaningless for near-zero entries (the conv biases before a BN have an exactly zero gradient, of
// which both engines compute float32 noise), where PyTorch's own float32 and float64 results differ as much.
void check_close(const std::string& what, const Tensor& actual, const Tensor& expected, double tolerance) {
  REQUIRE_MESSAGE(actual.sizes() == expected.sizes(), what);
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double scale = 1e-4, worst = 0;
  size_t at = 0;
  for (double v : e) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < a.size(); ++i) {
    const double dev = std::isnan(a[i]) ? INFINITY : std::max(0.0, std::abs(a[i] - e[i]) - 1e-6) / scale;
    if (dev > worst) {
      worst = dev;
      at = i;
    }
  }
  CHECK_MESSAGE(worst <= tolerance, what << "[" << at << "] = " << a[at] << ", PyTorch " << e[at]
                                         << " (deviation " << worst << " of the largest magnitude " << scale << ")");
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  return neg(mean(sum(mul(one_hot(labels, logits.size(1)), log_softmax(logits, 1)), {1})));
}

void run_parity(const std::string& arch, const ModelConfig& config) {
  CAPTURE(arch);
  Generator gen(0);
  auto model = make_model(arch, 5, gen, config);
  model->load_state_dict(with_prefix(arch + ".init."), true, "models.safetensors");
  model->train();
  const Tensor x = fixtures().at(arch + ".input"), y = fixtures().at(arch + ".labels");
  SGD opt(model->named_parameters(), {0.02, 0.9, 0.0, 5e-4, true});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    Tensor logits = model->forward(x);
    Tensor loss = cross_entropy(logits, y);
    loss.backward();
    if (step == 0) {
      check_close("logits", logits, fixtures().at(arch + ".logits"), 1e-5);
      check_close("loss", loss.reshape({1}), fixtures().at(arch + ".loss"), 1e-6);
      for (auto& [name, p] : model->named_parameters())
        check_close("grad " + name, p.grad(), fixtures().at(arch + ".grad." + name), 1e-4);
      for (auto& [name, b] : model->named_buffers())
        if (is_floating(b.dtype())) check_close("after step 1: " + name, b, fixtures().at(arch + ".step1." + name), 1e-5);
    }
    opt.step();
    if (step < 2) {
      const std::string key = arch + ".after" + std::to_string(step + 1) + ".";
      for (auto& [name, p] : model->named_parameters()) check_close("after step " + std::to_string(step + 1) + ": " + name, p, fixtures().at(key + name), 1e-5);
      NamedTensors torch_params = with_prefix(key);
      model->load_state_dict(torch_params, false, "models.safetensors");  // restart from PyTorch's parameters
    }
  }
  for (auto& [name, t] : model->state_dict())
    if (is_floating(t.dtype())) check_close("after 3 steps: " + name, t, fixtures().at(arch + ".step3." + name), 1e-4);
  CHECK(opt.step_count() == 3);
}

}  // namespace

TEST_CASE("CIFAR ResNet34 (narrow) matches PyTorch through three SGD steps") { run_parity("resnet34", {3, 1.0 / 16}); }
TEST_CASE("ImageNet ResNet18 (narrow) matches PyTorch through three SGD steps") { run_parity("resnet18", {3, 1.0 / 32}); }
TEST_CASE("DenseNet-BC (narrow) matches PyTorch through three SGD steps") {
  run_parity("densenetbc100", {3, 1.0 / 3, 22});
}
TEST_CASE("WideResNet (narrow) matches PyTorch through three SGD steps") { run_parity("wideresnet2810", {3, 0.05, 10}); }
