// The training choices PyTorch recipes change: per-iteration cosine with linear warm-up, label smoothing,
// the no-decay parameter group, RandomErasing and Cutout, the augmentation presets, and the OpenOOD v1.5
// preset, each against an independent statement of its semantics.
#include <doctest/doctest.h>

#include <cmath>

#include "datasets/augment.h"
#include "datasets/registry.h"
#include "engine/ops.h"
#include "experiment/train_config.h"
#include "layers/linear.h"
#include "layers/lr_schedule.h"
#include "layers/sgd.h"
#include "losses/loss_spec.h"
#include "tests/gradcheck.h"

using namespace dismax;

TEST_SUITE("recipes") {

TEST_CASE("per-iteration cosine is OpenOOD's LambdaLR cosine_annealing") {
  const double lr = 0.1, floor = 1e-6;
  IterationCosineLR s(lr, 100, floor);
  const int64_t per_epoch = 391, total = 100 * per_epoch;
  for (int64_t step : {int64_t{0}, int64_t{1}, int64_t{390}, int64_t{391}, total / 2, total - 1}) {
    // lr * lambda(step), lambda = 1e-6/lr + (1 - 1e-6/lr) * (1 + cos(pi step / total)) / 2
    const double lambda = floor / lr + (1 - floor / lr) * 0.5 * (1 + std::cos(M_PI * step / static_cast<double>(total)));
    CHECK(s.lr_at_step(step, per_epoch) == doctest::Approx(lr * lambda).epsilon(1e-12));
  }
  CHECK(s.lr_at_step(0, per_epoch) > s.lr_at_step(1, per_epoch));  // changes within an epoch
  // Epoch schedules keep their epoch's rate for every step of it.
  MultiStepLR m(0.1, {2}, 0.1);
  CHECK(m.lr_at_step(2 * 50 - 1, 50) == doctest::Approx(0.1));
  CHECK(m.lr_at_step(2 * 50, 50) == doctest::Approx(0.01));
}

TEST_CASE("linear warm-up rises to the base rate, then the cosine anneals over the remaining steps") {
  const double lr = 0.2;
  LinearWarmupLR s(lr, 2.5, std::make_unique<IterationCosineLR>(lr, 10, 0.0));
  const int64_t per_epoch = 10, warmup = 25, total = 100;
  CHECK(s.lr_at_step(0, per_epoch) == doctest::Approx(lr / warmup));
  CHECK(s.lr_at_step(24, per_epoch) == doctest::Approx(lr));
  CHECK(s.lr_at_step(warmup, per_epoch) == doctest::Approx(lr));
  const int64_t mid = warmup + (total - warmup) / 2;
  CHECK(s.lr_at_step(mid, per_epoch) ==
        doctest::Approx(lr * 0.5 * (1 + std::cos(M_PI * (mid - warmup) / static_cast<double>(total - warmup)))));
  CHECK(s.lr_at_step(total, per_epoch) == doctest::Approx(0.0).epsilon(1e-12));
  // In front of an epoch schedule the warm-up hands over to it unchanged.
  LinearWarmupLR w(0.1, 1, std::make_unique<MultiStepLR>(0.1, std::vector<int64_t>{3}, 0.5));
  CHECK(w.lr_at_step(4, 10) == doctest::Approx(0.05));
  CHECK(w.lr_at_step(35, 10) == doctest::Approx(0.05));
  CHECK_THROWS_AS(LinearWarmupLR(0.1, -1, std::make_unique<MultiStepLR>(0.1, std::vector<int64_t>{3})), Error);
}

TEST_CASE("label smoothing is PyTorch's CrossEntropyLoss(label_smoothing) and has a correct gradient") {
  Generator gen(5);
  LossSpec spec;
  spec.label_smoothing = 0.1;
  auto head = make_head("softmax", 4, 3, gen);
  auto criterion = make_criterion(spec, head);
  const Tensor logits = Tensor::from_vector<double>({1.0, -2.0, 0.5, 0.0, 3.0, -1.0}, {2, 3});
  const Tensor targets = Tensor::from_vector<int64_t>({2, 1}, {2});
  double expected = 0;
  const std::vector<std::vector<double>> z = {{1.0, -2.0, 0.5}, {0.0, 3.0, -1.0}};
  const int y[2] = {2, 1};
  for (int i = 0; i < 2; ++i) {
    const double lse = std::log(std::exp(z[i][0]) + std::exp(z[i][1]) + std::exp(z[i][2]));
    double uniform = 0;
    for (int k = 0; k < 3; ++k) uniform += (lse - z[i][k]) / 3;
    expected += (0.9 * (lse - z[i][y[i]]) + 0.1 * uniform) / 2;
  }
  CHECK(criterion->forward(logits, targets).item() == doctest::Approx(expected).epsilon(1e-12));
  dismax::testing::check_gradients("label smoothing", [&](auto& v) { return criterion->forward(v[0], targets); },
                                   {dismax::testing::randn64({2, 3}, 7)});
  spec.family = "dismax";
  CHECK_THROWS_WITH_AS(make_criterion(spec, make_head("dismax", 4, 3, gen)),
                       doctest::Contains("label smoothing is for the softmax loss"), Error);
}

TEST_CASE("the no-decay group takes no weight decay; the others take it, as two torch parameter groups") {
  Generator gen(1);
  Linear layer(3, 2, gen);
  const auto names = no_decay_parameter_names(layer.named_parameters());
  CHECK(names == std::vector<std::string>{"bias"});
  SgdOptions o{0.1, 0.0, 0.0, 0.5, false};
  SGD decayed(layer.named_parameters(), o);
  const auto w0 = layer.weight.to_vector<float>(), b0 = layer.bias.to_vector<float>();
  decayed.exclude_from_weight_decay(names);
  CHECK(decayed.excluded_from_weight_decay() == names);
  layer.weight.set_grad(Tensor::zeros_like(layer.weight));
  layer.bias.set_grad(Tensor::zeros_like(layer.bias));
  decayed.step();
  const auto w1 = layer.weight.to_vector<float>(), b1 = layer.bias.to_vector<float>();
  for (size_t i = 0; i < w0.size(); ++i) CHECK(w1[i] == doctest::Approx(w0[i] * (1 - 0.1 * 0.5)));  // p -= lr wd p
  CHECK(b1 == b0);
  CHECK_THROWS_WITH_AS(decayed.exclude_from_weight_decay({"nope"}), doctest::Contains("no trainable parameter 'nope'"),
                       Error);
}

TEST_CASE("RandomErasing and Cutout zero a box of the normalised tensor, every channel alike") {
  const int C = 3, H = 32, W = 32;
  auto run = [&](const Transform::TensorStep& step, uint64_t seed) {
    std::vector<float> x(C * H * W, 1.0f);
    Generator gen(seed);
    step(x.data(), C, H, W, gen);
    return x;
  };
  int erased_runs = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const auto x = run(random_erasing(0.5), seed);
    int top = H, left = W, bottom = -1, right = -1, zeros = 0;
    for (int y = 0; y < H; ++y)
      for (int xx = 0; xx < W; ++xx)
        if (x[y * W + xx] == 0.0f) {
          ++zeros;
          top = std::min(top, y), bottom = std::max(bottom, y), left = std::min(left, xx), right = std::max(right, xx);
          for (int c = 1; c < C; ++c) CHECK(x[(c * H + y) * W + xx] == 0.0f);
        }
    if (zeros == 0) continue;
    ++erased_runs;
    const int h = bottom - top + 1, w = right - left + 1;
    CHECK(zeros == h * w);  // one rectangle
    CHECK(h < H);
    CHECK(w < W);
    CHECK(h * w >= 0.02 * H * W * 0.5);
    CHECK(h * w <= 0.33 * H * W * 1.5);
  }
  CHECK(erased_runs > 70);  // p = 0.5 (a draw can also find no box that fits, then nothing is erased)
  CHECK(erased_runs < 130);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const auto x = run(cutout(16), seed);
    int zeros = 0;
    for (float v : x) zeros += v == 0.0f;
    CHECK(zeros % C == 0);
    CHECK(zeros / C <= 16 * 16);
    CHECK(zeros > 0);
  }
}

TEST_CASE("augmentation presets: the default is the dataset's own transform; parts change as their flags say") {
  AugmentRecipe r;
  CHECK(training_transform("cifar10", r).describe() == train_transform("cifar10").describe());
  r.preset = "cifar";
  r.crop_padding = 2;
  r.flip = 0.25;
  r.random_erasing = 0.3;
  r.color_jitter = {0.4, 0.4, 0.4, 0.1};
  r.trivial_augment = true;
  const std::string d = training_transform("cifar10", r).describe();
  CHECK(d.find("random_crop(32, padding 2) -> hflip(0.25) -> color_jitter(0.4, 0.4, 0.4, 0.1) -> "
               "trivial_augment_wide -> normalize") == 0);
  CHECK(d.find("-> random_erasing(0.3)") != std::string::npos);
  AugmentRecipe openood;
  openood.preset = "openood-cifar";
  CHECK(training_transform("cifar100", openood).describe().find("hflip(0.5) -> random_crop(32, padding 4)") == 0);
  AugmentRecipe bad;
  bad.rrc_scale = {0.2, 1.0};
  CHECK_THROWS_WITH_AS(bad.validate("cifar10"), doctest::Contains("--rrc-scale needs RandomResizedCrop"), Error);
  bad = AugmentRecipe{};
  bad.crop_padding = 4;
  CHECK_THROWS_WITH_AS(bad.validate("imagenet"), doctest::Contains("--crop-padding needs a random crop"), Error);
  bad = AugmentRecipe{};
  bad.preset = "autoaugment";
  CHECK_THROWS_WITH_AS(bad.validate("cifar10"), doctest::Contains("--augment must be one of"), Error);
  bad = AugmentRecipe{};
  bad.color_jitter = {0.4, 0.4, 0.4};
  CHECK_THROWS_WITH_AS(bad.validate("cifar10"), doctest::Contains("4 numbers"), Error);
}

TEST_CASE("ColorJitter and TrivialAugmentWide as training steps: deterministic per sample, shape-preserving") {
  Image img(20, 13, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>((i * 37) % 251);
  auto jitter = color_jitter(0.4, 0.4, 0.4, 0.1), trivial = trivial_augment_wide();
  auto none = color_jitter(0, 0, 0, 0);
  Generator g0(1);
  CHECK(none(img, g0).pixels == img.pixels);
  int changed = 0, unchanged = 0;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    Generator a(seed), b(seed);
    const Image x = trivial(img, a), y = trivial(img, b);
    CHECK(x.pixels == y.pixels);  // the sample's generator decides everything
    CHECK((x.width == 20 && x.height == 13 && x.channels == 3));
    (x.pixels == img.pixels ? unchanged : changed)++;
    Generator c(seed);
    const Image j = jitter(img, c);
    CHECK(j.pixels.size() == img.pixels.size());
    CHECK(j.pixels != img.pixels);
  }
  CHECK(changed > 40);   // 13 of the 14 operations change the image at almost every magnitude
  CHECK(unchanged > 0);  // Identity (1/14), and magnitude-0 bins
}

TEST_CASE("the OpenOOD v1.5 preset, and config.json recording every choice") {
  TrainConfig c;
  c.dataset = "cifar10";
  apply_recipe_preset(c, "openood-v1.5");
  CHECK(c.epochs == 100);
  CHECK(c.batch_size == 128);
  CHECK(c.lr == 0.1);
  CHECK(c.weight_decay == 5e-4);
  CHECK(c.nesterov);
  CHECK(c.schedule == "cosine-iter");
  CHECK(c.min_lr == 1e-6);
  CHECK(c.augment.preset == "openood-cifar");
  c.validate();
  c.warmup_epochs = 5;
  c.label_smoothing = 0.1;
  c.no_decay_bn_bias = true;
  c.augment.color_jitter = {0.1, 0.2, 0.3, 0.05};
  c.augment.cutout = 8;
  const TrainConfig back = TrainConfig::parse(c.json(), "config.json");
  CHECK(back.json() == c.json());
  CHECK(back.augment.color_jitter == c.augment.color_jitter);
  CHECK(back.recipe == "openood-v1.5");
  TrainConfig mnist;
  mnist.dataset = "mnist";
  CHECK_THROWS_WITH_AS(apply_recipe_preset(mnist, "openood-v1.5"), doctest::Contains("OpenOOD's CIFAR recipe"), Error);
  c.warmup_epochs = 100;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("--warmup-epochs must be in [0, --epochs)"), Error);
}

}  // TEST_SUITE
