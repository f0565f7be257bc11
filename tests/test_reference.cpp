// Forward values and input gradients against PyTorch, from tests/reference/engine_ops.safetensors
// (written by tests/reference/make_engine_fixtures.py).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>

#include "engine/io/safetensors.h"
#include "engine/ops.h"

using namespace dismax;

namespace {

const TensorFile& fixtures() {
  static const TensorFile f = load_safetensors(std::string(DISMAX_FIXTURE_DIR) + "/engine_ops.safetensors");
  return f;
}

void check_close(const std::string& what, const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  REQUIRE_MESSAGE(actual.sizes() == expected.sizes(), what << ": shape " << shape_str(actual.sizes()) << " vs "
                                                          << shape_str(expected.sizes()));
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double excess = std::abs(a[i] - e[i]) - (atol + rtol * std::abs(e[i]));
    if (excess > worst || std::isnan(a[i])) {
      worst = std::isnan(a[i]) ? INFINITY : excess;
      at = i;
    }
  }
  CHECK_MESSAGE(worst <= 0, what << ": element " << at << " is " << a[at] << ", PyTorch has " << e[at]);
}

using CaseFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs `fn` on the case's inputs, compares the output and the gradient of sum(out * gout) per input.
void run_case(const std::string& name, const CaseFn& fn, double atol = 2e-5, double rtol = 2e-5) {
  CAPTURE(name);
  const TensorFile& f = fixtures();
  std::vector<Tensor> inputs;
  for (int i = 0; f.contains(name + ".in" + std::to_string(i)); ++i) {
    Tensor t = f.at(name + ".in" + std::to_string(i)).clone();
    if (is_floating(t.dtype())) t.set_requires_grad(true);
    inputs.push_back(t);
  }
  REQUIRE(!inputs.empty());
  Tensor out = fn(inputs);
  check_close(name + " output", out, f.at(name + ".out"), atol, rtol);
  sum(mul(out, f.at(name + ".gout"))).backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string key = name + ".grad" + std::to_string(i);
    if (!f.contains(key)) continue;
    REQUIRE_MESSAGE(inputs[i].grad().defined(), key << " missing");
    check_close(key, inputs[i].grad(), f.at(key), atol, rtol);
  }
}

}  // namespace

TEST_CASE("convolutions match PyTorch") {
  run_case("conv3x3_s1_p1", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}); });
  run_case("conv3x3_s2_p1_bias", [](auto& v) { return conv2d(v[0], v[1], v[2], {2, 1}); });
  run_case("conv1x1_s2", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {2, 0}); });
  run_case("conv7x7_s2_p3", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {2, 3}); }, 1e-4, 1e-4);
  run_case("conv3x3_wide", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}); }, 1e-4, 1e-4);
}

TEST_CASE("batch norm matches PyTorch, running statistics included") {
  const TensorFile& f = fixtures();
  for (const auto& [name, momentum] : {std::pair<std::string, double>{"bn_train", 0.1}, {"bn_train_2d_m09", 0.9}}) {
    Tensor rm = f.at(name + ".running_mean_before").clone(), rv = f.at(name + ".running_var_before").clone();
    run_case(name, [&, m = momentum](auto& v) { return batch_norm(v[0], v[1], v[2], rm, rv, true, m, 1e-5); });
    check_close(name + " running_mean", rm, f.at(name + ".running_mean"), 1e-6, 1e-5);
    check_close(name + " running_var", rv, f.at(name + ".running_var"), 1e-6, 1e-5);
  }
  const Tensor rm = f.at("bn_eval.running_mean"), rv = f.at("bn_eval.running_var");
  run_case("bn_eval", [&](auto& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false, 0.1, 1e-5); });
}

TEST_CASE("pooling matches PyTorch") {
  run_case("max_pool_3_2_1", [](auto& v) { return max_pool2d(v[0], 3, 2, 1); });
  run_case("avg_pool_2_2", [](auto& v) { return avg_pool2d(v[0], 2, 2); });
  run_case("avg_pool_3_2_1", [](auto& v) { return avg_pool2d(v[0], 3, 2, 1); });
  run_case("avg_pool_3_2_1_nopad", [](auto& v) { return avg_pool2d(v[0], 3, 2, 1, false); });
  run_case("global_avg_pool", [](auto& v) { return global_avg_pool2d(v[0]); });
}

TEST_CASE("dense ops match PyTorch") {
  run_case("softmax", [](auto& v) { return softmax(v[0], 1); });
  run_case("log_softmax", [](auto& v) { return log_softmax(v[0], 1); });
  run_case("matmul", [](auto& v) { return matmul(v[0], v[1]); });
  run_case("linear", [](auto& v) { return linear(v[0], v[1], v[2]); });
  run_case("cdist", [](auto& v) { return cdist(v[0], v[1]); });
  run_case("normalize", [](auto& v) { return normalize(v[0], 1); });
  const Tensor labels = fixtures().at("cross_entropy.labels");
  run_case("cross_entropy", [&](auto& v) {
    const Tensor hot = one_hot(labels, v[0].size(1));
    return neg(mean(sum(mul(hot, log_softmax(v[0], 1)), {1}))).reshape({1});
  });
  run_case("relu", [](auto& v) { return relu(v[0]); });
  run_case("exp_log_sqrt", [](auto& v) { return log(exp(v[0]) + 1.0) + sqrt(abs(v[0]) + 0.1); });
  run_case("clamp", [](auto& v) { return clamp(v[0], -0.5, 0.5); });
  run_case("sum_mean_max", [](auto& v) { return sum(v[0], {1}) + mean(v[0], {1}) * 2.0 + max(v[0], 1).first; });
  run_case("cat", [](auto& v) { return cat({v[0], v[1]}, 1); });
  const Tensor index = fixtures().at("index_select.index");
  run_case("index_select", [&](auto& v) { return index_select(v[0], 0, index); });
}
