#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "layers/basic.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/lr_schedule.h"
#include "layers/sequential.h"
#include "layers/sgd.h"

using namespace dismax;

namespace {
struct Net : Module {
  explicit Net(Generator& gen) {
    conv = register_module("conv", std::make_shared<Conv2d>(3, 4, 3, gen, 1, 1, false));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(4));
    body = register_module("body", std::make_shared<Sequential>());
    body->push_back(std::make_shared<ReLU>());
    body->push_back(std::make_shared<GlobalAvgPool2d>());
    fc = register_module("fc", std::make_shared<Linear>(4, 2, gen));
    scale = register_parameter("scale", Tensor::ones({1}));
  }
  Tensor forward(const Tensor& x) override { return fc->forward(body->forward(bn->forward(conv->forward(x)))) * scale; }
  std::string type_name() const override { return "Net"; }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
  std::shared_ptr<Sequential> body;
  std::shared_ptr<Linear> fc;
  Tensor scale;
};
}  // namespace

TEST_CASE("named parameters, buffers and state_dict in PyTorch order") {
  Generator gen(0);
  Net net(gen);
  std::vector<std::string> names;
  for (auto& [n, t] : net.state_dict()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"scale", "conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                          "bn.running_var", "bn.num_batches_tracked", "fc.weight", "fc.bias"});
  CHECK(net.parameter_count() == 1 + 4 * 27 + 8 + 8 + 2);
  CHECK(net.named_buffers().size() == 3);
  std::vector<std::string> modules;
  for (auto& [n, m] : net.named_modules()) modules.push_back(n);
  CHECK(modules == std::vector<std::string>{"", "conv", "bn", "body", "body.0", "body.1", "fc"});
  CHECK(net.summary().find("(conv): Conv2d(3, 4, kernel_size=3, stride=1, padding=1, bias=False)") != std::string::npos);
}

TEST_CASE("train/eval reaches every child and BatchNorm tracks batches") {
  Generator gen(1);
  Net net(gen);
  const Tensor x = Tensor::randn({2, 3, 5, 5}, gen);
  net.forward(x);
  net.forward(x);
  int64_t in_state_dict = -1;  // counted on the host, in the buffer once the buffers are read
  for (const auto& [name, t] : net.state_dict())
    if (name == "bn.num_batches_tracked") in_state_dict = t.item<int64_t>();
  CHECK(in_state_dict == 2);
  CHECK(net.bn->batches_tracked() == 2);
  CHECK(net.bn->running_mean.to_vector<float>() != std::vector<float>(4, 0.0f));
  net.eval();
  CHECK(!net.bn->is_training());
  CHECK(!net.body->operator[](0).is_training());
  const auto before = net.bn->running_mean.to_vector<float>();
  NoGradGuard guard;
  net.forward(x);
  CHECK(net.bn->batches_tracked() == 2);
  CHECK(net.bn->running_mean.to_vector<float>() == before);
}

TEST_CASE("registration errors name the module and member") {
  struct Bad : Module {
    Tensor forward(const Tensor& x) override { return x; }
    std::string type_name() const override { return "Bad"; }
    void twice() {
      register_parameter("w", Tensor::ones({1}));
      register_buffer("w", Tensor::ones({1}));
    }
    void dotted() { register_parameter("a.b", Tensor::ones({1})); }
  };
  Bad bad;
  CHECK_THROWS_WITH_AS(bad.twice(), doctest::Contains("Bad: name 'w' is already registered"), Error);
  CHECK_THROWS_WITH_AS(bad.dotted(), doctest::Contains("invalid member name 'a.b'"), Error);
}

TEST_CASE("load_state_dict: strict and non-strict") {
  Generator gen(2);
  Net a(gen), b(gen);
  b.load_state_dict(a.state_dict());
  CHECK(b.fc->weight.to_vector<float>() == a.fc->weight.to_vector<float>());
  NamedTensors partial = {{"scale", Tensor::full({1}, 3.0)}};
  CHECK_THROWS_WITH_AS(b.load_state_dict(partial), doctest::Contains("missing (8): "), Error);
  b.load_state_dict(partial, false);
  CHECK(b.scale.item() == 3.0);
  NamedTensors extra = a.state_dict();
  extra.emplace_back("head.weight", Tensor::ones({1}));
  CHECK_THROWS_WITH_AS(b.load_state_dict(extra, true, "x.safetensors"),
                       doctest::Contains("unexpected (1): head.weight"), Error);
}

TEST_CASE("initialisers follow PyTorch's formulas") {
  Generator gen(3);
  Tensor w = Tensor::empty({64, 32, 3, 3});
  init::kaiming_normal_fan_out(w, gen);
  const auto v = w.to_vector<double>();
  double ss = 0;
  for (double x : v) ss += x * x;
  CHECK(std::sqrt(ss / v.size()) == doctest::Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.02));
  Linear lin(100, 10, gen);
  for (float x : lin.weight.to_vector<float>()) CHECK(std::abs(x) <= 0.1f);
  for (float x : lin.bias.to_vector<float>()) CHECK(std::abs(x) <= 0.1f);
  Conv2d conv(4, 8, 3, gen, 1, 0, true);
  for (float x : conv.bias.to_vector<float>()) CHECK(std::abs(x) <= 1.0f / 6.0f);
}

TEST_CASE("SGD follows PyTorch's update order") {
  // One parameter, hand-computed: g = grad + wd*p; buf = g; nesterov: g + m*buf; p -= lr*...
  Tensor p = Tensor::from_vector<double>({1.0, -2.0}, {2}).set_requires_grad(true);
  SGD opt({{"p", p}}, {0.1, 0.9, 0.0, 0.01, true});
  sum(p * p).backward();  // grad = 2p = (2, -4)
  opt.step();
  // g = (2.01, -4.02); buf = g; update = g + 0.9 g = 1.9 g
  CHECK(p.to_vector<double>()[0] == doctest::Approx(1.0 - 0.1 * 1.9 * 2.01));
  opt.zero_grad();
  CHECK(!p.grad().defined());
  const double p1 = p.to_vector<double>()[0];
  sum(p * p).backward();
  opt.step();
  const double g = 2 * p1 + 0.01 * p1, buf = 0.9 * 2.01 + g;
  CHECK(p.to_vector<double>()[0] == doctest::Approx(p1 - 0.1 * (g + 0.9 * buf)));
  CHECK(opt.state().size() == 1);
  CHECK(opt.state()[0].first == "momentum_buffer.p");
  // Plain SGD with dampening keeps no Nesterov term.
  Tensor q = Tensor::from_vector<double>({1.0}, {1}).set_requires_grad(true);
  SGD plain({{"q", q}}, {0.5, 0.0, 0.0, 0.0, false});
  sum(q * 3.0).backward();
  plain.step();
  CHECK(q.item() == doctest::Approx(1.0 - 1.5));
  CHECK_THROWS_WITH_AS(SGD({{"q", q}}, {0.1, 0.0, 0.0, 0.0, true}), doctest::Contains("Nesterov"), Error);
}

TEST_CASE("learning-rate schedules") {
  MultiStepLR step(0.1, {150, 200, 250}, 0.1);
  CHECK(step.lr_at(0) == doctest::Approx(0.1));
  CHECK(step.lr_at(149) == doctest::Approx(0.1));   // epoch 150 still at 0.1
  CHECK(step.lr_at(150) == doctest::Approx(0.01));  // epoch 151
  CHECK(step.lr_at(200) == doctest::Approx(0.001));
  CHECK(step.lr_at(299) == doctest::Approx(0.0001));
  CosineAnnealingLR cosine(0.1, 100, 0.001);
  CHECK(cosine.lr_at(0) == doctest::Approx(0.1));
  CHECK(cosine.lr_at(50) == doctest::Approx(0.0505));
  CHECK(cosine.lr_at(100) == doctest::Approx(0.001));
}

TEST_CASE("Dropout: scaled mask in training, identity in eval, reproducible from the generator") {
  Generator g1(9), g2(9);
  Dropout d1(0.5, g1), d2(0.5, g2);
  const Tensor x = Tensor::ones({1000});
  const auto a = d1.forward(x).to_vector<float>(), b = d2.forward(x).to_vector<float>();
  CHECK(a == b);
  int kept = 0;
  for (float v : a) {
    CHECK((v == 0.0f || v == 2.0f));
    kept += v != 0.0f;
  }
  CHECK(std::abs(kept - 500) < 60);
  d1.eval();
  CHECK(d1.forward(x).to_vector<float>() == x.to_vector<float>());
}
