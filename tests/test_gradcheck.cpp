// A finite-difference check of every differentiable op, in float64, with odd sizes, broadcasting and
// non-contiguous views.
#include "tests/gradcheck.h"

using namespace dismax;
using dismax::testing::check_gradients;
using dismax::testing::randn64;
using dismax::testing::uniform64;

TEST_SUITE("gradcheck") {
  TEST_CASE("broadcasting arithmetic") {
    const auto a = randn64({3, 1, 5}, 1), b = randn64({4, 5}, 2);
    check_gradients("add", [](auto& v) { return add(v[0], v[1], 0.7); }, {a, b});
    check_gradients("sub", [](auto& v) { return v[0] - v[1]; }, {a, b});
    check_gradients("mul", [](auto& v) { return v[0] * v[1]; }, {a, b});
    check_gradients("div", [](auto& v) { return v[0] / v[1]; }, {a, uniform64({4, 5}, 3, 0.5, 2.0)});
    check_gradients("maximum", [](auto& v) { return maximum(v[0], v[1]); }, {a, b});
    check_gradients("minimum", [](auto& v) { return minimum(v[0], v[1]); }, {a, b});
    check_gradients("scalar ops", [](auto& v) { return (2.0 - v[0] * 3.0) / 1.5 + 1.0; }, {a});
    check_gradients("reciprocal", [](auto& v) { return 2.0 / v[0]; }, {uniform64({3, 4}, 4, 0.5, 2.0)});
  }

  TEST_CASE("unary ops") {
    const auto x = randn64({7, 3}, 5);
    const auto pos = uniform64({7, 3}, 6, 0.2, 3.0);
    check_gradients("neg", [](auto& v) { return -v[0]; }, {x});
    check_gradients("abs", [](auto& v) { return abs(v[0]); }, {x});
    check_gradients("exp", [](auto& v) { return exp(v[0]); }, {x});
    check_gradients("log", [](auto& v) { return log(v[0]); }, {pos});
    check_gradients("sqrt", [](auto& v) { return sqrt(v[0]); }, {pos});
    check_gradients("square", [](auto& v) { return square(v[0]); }, {x});
    check_gradients("pow", [](auto& v) { return pow(v[0], 2.5); }, {pos});
    check_gradients("pow -1.5", [](auto& v) { return pow(v[0], -1.5); }, {pos});
    check_gradients("clamp", [](auto& v) { return clamp(v[0], -0.5, 0.6); }, {x});
    check_gradients("relu", [](auto& v) { return relu(v[0]); }, {x});
    check_gradients("affine", [](auto& v) { return affine(v[0], -1.3, 0.2); }, {x});
  }

  TEST_CASE("non-contiguous inputs") {
    const auto x = randn64({4, 6}, 7);
    check_gradients("exp of transpose", [](auto& v) { return exp(v[0].t()); }, {x});
    check_gradients("mul of slices", [](auto& v) { return v[0].narrow(1, 1, 3) * v[0].narrow(1, 3, 3); }, {x});
    check_gradients("sum of permute", [](auto& v) { return sum(v[0].t(), {1}); }, {x});
  }

  TEST_CASE("reductions") {
    const auto x = randn64({3, 5, 4}, 8);
    check_gradients("sum all", [](auto& v) { return sum(v[0]); }, {x});
    check_gradients("sum dims", [](auto& v) { return sum(v[0], {0, 2}); }, {x});
    check_gradients("sum keepdim", [](auto& v) { return sum(v[0], {1}, true); }, {x});
    check_gradients("mean", [](auto& v) { return mean(v[0], {-1}); }, {x});
    check_gradients("mean all", [](auto& v) { return mean(v[0]); }, {x});
    check_gradients("max dim 1", [](auto& v) { return max(v[0], 1).first; }, {x});
    check_gradients("max dim 0 keepdim", [](auto& v) { return max(v[0], 0, true).first; }, {x});
    check_gradients("max last", [](auto& v) { return max(v[0], -1).first; }, {x});
  }

  TEST_CASE("softmax family") {
    const auto x = randn64({4, 7}, 9, 2.0);
    check_gradients("softmax dim 1", [](auto& v) { return softmax(v[0], 1); }, {x});
    check_gradients("softmax dim 0", [](auto& v) { return softmax(v[0], 0); }, {x});
    check_gradients("log_softmax", [](auto& v) { return log_softmax(v[0], -1); }, {x});
    check_gradients("log_softmax 3d middle", [](auto& v) { return log_softmax(v[0], 1); }, {randn64({2, 5, 3}, 10)});
  }

  TEST_CASE("matmul and linear") {
    const auto a = randn64({5, 7}, 11), b = randn64({7, 3}, 12);
    check_gradients("matmul", [](auto& v) { return matmul(v[0], v[1]); }, {a, b});
    check_gradients("matmul transposed", [](auto& v) { return matmul(v[1].t(), v[0].t()); }, {a, b});
    const auto x = randn64({6, 7}, 13), w = randn64({3, 7}, 14), bias = randn64({3}, 15);
    check_gradients("linear", [](auto& v) { return linear(v[0], v[1], v[2]); }, {x, w, bias});
    check_gradients("linear no bias", [](auto& v) { return linear(v[0], v[1], Tensor()); }, {x, w});
  }

  TEST_CASE("conv2d") {
    const auto x = randn64({2, 3, 7, 6}, 16), w = randn64({4, 3, 3, 3}, 17), b = randn64({4}, 18);
    check_gradients("conv 3x3 pad 1", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}); }, {x, w});
    check_gradients("conv 3x3 stride 2 bias", [](auto& v) { return conv2d(v[0], v[1], v[2], {2, 1}); }, {x, w, b});
    check_gradients("conv 1x1 stride 2", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {2, 0}); },
                    {x, randn64({5, 3, 1, 1}, 19)});
    check_gradients("conv 5x5 pad 2 on permuted input",
                    [](auto& v) { return conv2d(v[0].permute({0, 3, 1, 2}), v[1], Tensor(), {1, 2}); },
                    {randn64({2, 5, 6, 3}, 20), randn64({2, 3, 5, 5}, 21)});
  }

  TEST_CASE("batch_norm") {
    const auto x = randn64({3, 4, 5, 3}, 22, 2.0, 1.0), g = randn64({4}, 23), b = randn64({4}, 24);
    check_gradients("bn train", [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
                    {x, g, b});
    check_gradients("bn train 2d",
                    [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
                    {randn64({5, 4}, 25), g, b});
    const auto rm = randn64({4}, 26), rv = uniform64({4}, 27, 0.5, 2.0);
    check_gradients("bn eval", [&](auto& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false, 0.1, 1e-5); },
                    {x, g, b});
    check_gradients("bn no affine",
                    [](auto& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); },
                    {x});
  }

  TEST_CASE("batch_norm_add_relu") {
    const auto x = randn64({3, 4, 5, 3}, 40, 2.0, 1.0), g = randn64({4}, 41), b = randn64({4}, 42);
    const auto r = randn64({3, 4, 5, 3}, 43);
    const auto rm = randn64({4}, 44), rv = uniform64({4}, 45, 0.5, 2.0);
    for (bool training : {true, false}) {
      CAPTURE(training);
      // Training mode leaves the running statistics alone here (undefined), so the eval checks see fixed ones.
      const Tensor mean_buffer = training ? Tensor() : rm, var_buffer = training ? Tensor() : rv;
      check_gradients("bn + residual + relu",
                      [&](auto& v) { return batch_norm_add_relu(v[0], v[1], v[2], mean_buffer, var_buffer, training, 0.1, 1e-5, v[3], true); },
                      {x, g, b, r});
      check_gradients("bn + relu",
                      [&](auto& v) { return batch_norm_add_relu(v[0], v[1], v[2], mean_buffer, var_buffer, training, 0.1, 1e-5, Tensor(), true); },
                      {x, g, b});
      check_gradients("bn + residual",
                      [&](auto& v) { return batch_norm_add_relu(v[0], v[1], v[2], mean_buffer, var_buffer, training, 0.1, 1e-5, v[3], false); },
                      {x, g, b, r});
    }
    check_gradients("bn + relu, 2d, no affine",
                    [](auto& v) { return batch_norm_add_relu(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, v[1], true); },
                    {randn64({6, 4}, 46), randn64({6, 4}, 47)});
  }

  TEST_CASE("pooling") {
    const auto x = randn64({2, 3, 7, 8}, 28);
    check_gradients("max_pool 3/2/1", [](auto& v) { return max_pool2d(v[0], 3, 2, 1); }, {x});
    check_gradients("max_pool 2/2", [](auto& v) { return max_pool2d(v[0], 2, 2); }, {x});
    check_gradients("avg_pool 2/2", [](auto& v) { return avg_pool2d(v[0], 2, 2); }, {x});
    check_gradients("avg_pool 3/2/1", [](auto& v) { return avg_pool2d(v[0], 3, 2, 1); }, {x});
    check_gradients("avg_pool 3/2/1 no pad count", [](auto& v) { return avg_pool2d(v[0], 3, 2, 1, false); }, {x});
    check_gradients("global avg", [](auto& v) { return global_avg_pool2d(v[0]); }, {x});
  }

  TEST_CASE("views and indexing") {
    const auto x = randn64({3, 4, 5}, 29);
    check_gradients("reshape", [](auto& v) { return v[0].reshape({4, -1}) * 2.0; }, {x});
    check_gradients("reshape of transpose", [](auto& v) { return v[0].transpose(0, 2).reshape({-1}); }, {x});
    check_gradients("narrow", [](auto& v) { return v[0].narrow(1, 1, 2); }, {x});
    check_gradients("select", [](auto& v) { return v[0].select(2, -1); }, {x});
    check_gradients("permute", [](auto& v) { return v[0].permute({2, 0, 1}).contiguous(); }, {x});
    check_gradients("expand", [](auto& v) { return v[0].unsqueeze(0).expand({2, 3, 4, 5}); }, {x});
    check_gradients("flatten squeeze", [](auto& v) { return v[0].narrow(0, 1, 1).squeeze(0).flatten(); }, {x});
    check_gradients("cat dim 1",
                    [](auto& v) { return cat({v[0], v[1].narrow(1, 0, 2), v[0]}, 1); }, {x, randn64({3, 3, 5}, 30)});
    const Tensor idx = Tensor::from_vector<int64_t>({2, 0, 2, 1}, {4});
    check_gradients("index_select repeated", [&](auto& v) { return index_select(v[0], 0, idx); }, {x});
    check_gradients("index_select dim 2", [&](auto& v) { return index_select(v[0], 2, idx); }, {x});
    check_gradients("roll sub-range", [](auto& v) { return roll(v[0], 2, 1, 1, 3); }, {x});
  }

  TEST_CASE("distances and normalisation") {
    const auto a = randn64({5, 4}, 31), b = randn64({3, 4}, 32);
    check_gradients("norm", [](auto& v) { return norm(v[0], 1); }, {a});
    check_gradients("normalize", [](auto& v) { return normalize(v[0], 1); }, {a});
    check_gradients("cdist", [](auto& v) { return cdist(v[0], v[1]); }, {a, b});
    check_gradients("cdist of normalized", [](auto& v) { return cdist(normalize(v[0]), normalize(v[1])); }, {a, b});
  }

  TEST_CASE("dropout with a fixed mask") {
    const auto x = randn64({6, 5}, 33);
    check_gradients("dropout", [](auto& v) {
      Generator gen(7);  // same mask on every evaluation
      return dropout(v[0], 0.3, true, gen);
    }, {x});
  }
}

TEST_CASE("zero-distance and zero-norm gradients are zero, not NaN") {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 0, 0, 0}, {2, 3}).set_requires_grad(true);
  Tensor b = Tensor::from_vector<double>({1, 2, 3}, {1, 3}).set_requires_grad(true);
  sum(cdist(a, b)).backward();
  const auto ga = a.grad().to_vector<double>();
  for (int i = 0; i < 3; ++i) CHECK(ga[i] == 0.0);  // row 0 coincides with b
  for (double g : b.grad().to_vector<double>()) CHECK(std::isfinite(g));
  Tensor z = Tensor::zeros({2, 3}, DType::Float64).set_requires_grad(true);
  sum(normalize(z)).backward();
  for (double g : z.grad().to_vector<double>()) CHECK(std::isfinite(g));
}

TEST_CASE("abs has gradient 0 at 0") {
  Tensor x = Tensor::from_vector<double>({-2, 0, 3}, {3}).set_requires_grad(true);
  sum(abs(x)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{-1, 0, 1});
}
