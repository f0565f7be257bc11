#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "layers/linear.h"
#include "models/model.h"

using namespace dismax;

TEST_CASE("backbone parameter counts equal SPEC §3") {
  Generator gen(0);
  struct Expect {
    const char* name;
    int64_t classes, backbone, total;
  };
  for (const Expect& e : {Expect{"densenetbc100", 10, 765732, 769162}, Expect{"densenetbc100", 100, 765732, 800032},
                          Expect{"resnet34", 10, 21276992, 21282122}, Expect{"resnet34", 100, 21276992, 21328292},
                          Expect{"wideresnet2810", 10, 36482880, 36489290},
                          Expect{"wideresnet2810", 100, 36482880, 36546980},
                          Expect{"resnet18", 1000, 11176512, 11689512}}) {
    CAPTURE(e.name);
    CAPTURE(e.classes);
    auto model = make_model(e.name, e.classes, gen);
    CHECK(model->backbone_parameter_count() == e.backbone);
    CHECK(model->parameter_count() == e.total);
  }
}

TEST_CASE("parameter names follow the PyTorch state_dict") {
  Generator gen(0);
  auto r34 = make_model("resnet34", 10, gen, {3, 0.125});
  const auto sd = r34->state_dict();
  auto has = [&](const std::string& n) {
    for (const auto& [k, v] : sd)
      if (k == n) return true;
    return false;
  };
  CHECK(sd.front().first == "conv1.weight");
  CHECK(has("bn1.running_mean"));
  CHECK(has("bn1.num_batches_tracked"));
  CHECK(has("layer1.0.conv1.weight"));
  CHECK(has("layer2.0.shortcut.0.weight"));
  CHECK(has("layer2.0.shortcut.1.running_var"));
  CHECK(!has("layer1.0.shortcut.0.weight"));
  CHECK(has("layer4.2.bn2.weight"));
  CHECK(has("classifier.weight"));
  auto r18 = make_model("resnet18", 5, gen, {3, 0.125});
  CHECK(r18->head_name() == "fc");
  CHECK(r18->state_dict().back().first == "fc.bias");
  bool downsample = false;
  for (const auto& [k, v] : r18->state_dict()) downsample |= k == "layer3.0.downsample.1.weight";
  CHECK(downsample);
  auto dn = make_model("densenetbc100", 10, gen, {3, 0.5, 16});
  bool dense_names = false;
  for (const auto& [k, v] : dn->state_dict()) dense_names |= k == "block2.layer.1.conv2.weight";
  CHECK(dense_names);
  auto wrn = make_model("wideresnet2810", 10, gen, {3, 0.2, 10});
  bool wrn_names = false;
  for (const auto& [k, v] : wrn->state_dict()) wrn_names |= k == "layer1.0.shortcut.0.bias";
  CHECK(wrn_names);
}

TEST_CASE("initialisation follows SPEC §3") {
  Generator gen(0);
  auto model = make_model("resnet34", 10, gen);
  for (auto& [name_, t] : model->named_parameters()) {
    const std::string& name = name_;  // a plain variable: clang's C++17 lambdas cannot capture bindings
    if (name.find("bn2.weight") != std::string::npos && name.rfind("layer", 0) == 0) {
      CAPTURE(name);
      CHECK(sum(abs(t)).item() == 0.0);  // zero-init residual branch
    }
  }
  // kaiming normal fan_out: std sqrt(2 / (64 * 9)) for layer1 convs
  Tensor w;
  for (auto& [name, t] : model->state_dict())
    if (name == "layer1.0.conv1.weight") w = t;
  const auto v = w.to_vector<double>();
  double ss = 0;
  for (double x : v) ss += x * x;
  CHECK(std::sqrt(ss / v.size()) == doctest::Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.03));
}

TEST_CASE("every model runs forward and backward on a small batch, train and eval") {
  Generator gen(1);
  for (const auto& name : model_names()) {
    CAPTURE(name);
    ModelConfig cfg{3, 0.25, name == "densenetbc100" ? 10 : (name == "wideresnet2810" ? 10 : 0)};
    auto model = make_model(name, 7, gen, cfg);
    const int64_t size = name == "resnet18" ? 64 : 32;
    Tensor x = Tensor::randn({2, 3, size, size}, gen);
    Tensor y = model->forward(x);
    CHECK(y.sizes() == Shape{2, 7});
    sum(y).backward();
    for (auto& [pname_, p] : model->named_parameters()) {
      const std::string& pname = pname_;  // a plain variable: clang's C++17 lambdas cannot capture bindings
      CAPTURE(pname);
      CHECK(p.grad().defined());
    }
    model->eval();
    NoGradGuard guard;
    CHECK(model->forward(x).sizes() == Shape{2, 7});
  }
}

TEST_CASE("the head is swappable and features have the documented size") {
  Generator gen(2);
  auto model = make_model("resnet20", 10, gen);
  CHECK(model->feature_dim() == 64);
  Tensor f = model->features(Tensor::randn({3, 3, 32, 32}, gen));
  CHECK(f.sizes() == Shape{3, 64});
  model->set_head(std::make_shared<Linear>(64, 4, gen, false));
  CHECK(model->forward(Tensor::randn({3, 3, 32, 32}, gen)).sizes() == Shape{3, 4});
  CHECK(model->head().type_name() == "Linear");
  CHECK(model->summary().find("(classifier): Linear(in_features=64, out_features=4, bias=False)") != std::string::npos);
  CHECK_THROWS_WITH_AS(make_model("vgg16", 10, gen), doctest::Contains("unknown model 'vgg16'"), Error);
}

TEST_CASE("one-channel input for MNIST-style data") {
  Generator gen(3);
  auto model = make_model("resnet20", 10, gen, {1, 0.5});
  CHECK(model->forward(Tensor::randn({2, 1, 28, 28}, gen)).sizes() == Shape{2, 10});
}
