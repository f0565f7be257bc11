#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd/node.h"
#include "engine/ops.h"

using namespace dismax;

namespace {
Tensor param(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s).set_requires_grad(true); }
}  // namespace

TEST_CASE("requires_grad propagates and leaves accumulate") {
  Tensor w = param({1, 2, 3}, {3});
  Tensor x = Tensor::from_vector<double>({4, 5, 6}, {3});
  Tensor y = sum(w * x);
  CHECK(y.requires_grad());
  CHECK(!y.is_leaf());
  CHECK(w.is_leaf());
  CHECK(y.grad_fn()->name() == "sum");
  y.backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{4, 5, 6});
  CHECK(!x.grad().defined());
  sum(w * x).backward();  // a second graph accumulates
  CHECK(w.grad().to_vector<double>() == std::vector<double>{8, 10, 12});
  w.zero_grad();
  CHECK(!w.grad().defined());
}

TEST_CASE("a leaf used twice and a diamond sum their gradients") {
  Tensor a = param({2}, {1});
  Tensor b = a * a;              // da = 2a
  Tensor c = exp(a) + b * 3.0;   // dc = e^a + 6a
  sum(c + b).backward();         // + 2a
  CHECK(a.grad().item() == doctest::Approx(std::exp(2.0) + 12.0 + 4.0));
}

TEST_CASE("no-grad scope records nothing") {
  Tensor w = param({1, 2}, {2});
  Tensor y;
  {
    NoGradGuard guard;
    y = w * 2.0;
    CHECK(!grad_mode_enabled());
  }
  CHECK(grad_mode_enabled());
  CHECK(!y.requires_grad());
  CHECK(y.grad_fn() == nullptr);
}

TEST_CASE("non-scalar backward needs a gradient of the output's shape") {
  Tensor w = param({1, 2}, {2});
  Tensor y = w * 3.0;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("non-scalar"), Error);
  y.backward(Tensor::from_vector<double>({1, 10}, {2}));
  CHECK(w.grad().to_vector<double>() == std::vector<double>{3, 30});
}

TEST_CASE("retain_graph allows a second backward") {
  Tensor w = param({1.5}, {1});
  Tensor y = sum(exp(w));
  y.backward(Tensor(), true);
  y.backward();
  CHECK(w.grad().item() == doctest::Approx(2 * std::exp(1.5)));
}

TEST_CASE("saved buffers are freed after backward") {
  Tensor w = param({1, 2, 3}, {3});
  Tensor h = exp(w);  // saves its output
  std::weak_ptr<Storage> saved = h.storage();
  Tensor y = sum(h * 2.0);
  h = Tensor();  // the graph is now the only owner of exp's output
  CHECK(!saved.expired());
  y.backward();
  CHECK(saved.expired());
}

TEST_CASE("gradients reach only the inputs that need them") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor w = param({1, 0, 0, 1}, {2, 2});
  sum(matmul(x, w)).backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{4, 4, 6, 6});
  CHECK(!x.grad().defined());
}

TEST_CASE("detach cuts the graph") {
  Tensor w = param({2}, {1});
  Tensor y = w.detach() * w;
  sum(y).backward();
  CHECK(w.grad().item() == 2.0);
}

TEST_CASE("optimizer-style in-place updates under no_grad") {
  Tensor w = param({1, 2}, {2});
  sum(w * w).backward();
  {
    NoGradGuard guard;
    w.add_(w.grad(), -0.1);
  }
  CHECK(w.to_vector<double>() == std::vector<double>{0.8, 1.6});
  CHECK(w.requires_grad());
}

TEST_CASE("batch_norm updates running statistics with PyTorch's rule") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});  // channel 0: 1,3,5,7; channel 1: 2,4,6,8
  Tensor rm = Tensor::zeros({2}, DType::Float64), rv = Tensor::ones({2}, DType::Float64);
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
  // mean 4 / 5, biased var 5, unbiased var 20/3
  const auto m = rm.to_vector<double>(), v = rv.to_vector<double>();
  CHECK(m[0] == doctest::Approx(0.4));
  CHECK(m[1] == doctest::Approx(0.5));
  CHECK(v[0] == doctest::Approx(0.9 + 0.1 * 20.0 / 3.0));
  const auto yv = y.to_vector<double>();
  CHECK(yv[0] == doctest::Approx((1 - 4) / std::sqrt(5 + 1e-5)));
  Tensor e = batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.1, 1e-5);
  CHECK(e.to_vector<double>()[0] == doctest::Approx((1 - 0.4) / std::sqrt(v[0] + 1e-5)));
}

TEST_CASE("batch_norm_add_relu gives batch_norm, add and relu composed: values, gradients, running statistics") {
  Generator gen(11);
  for (bool training : {true, false}) {
    for (bool with_residual : {true, false}) {
      for (bool with_relu : {true, false}) {
        CAPTURE(training);
        CAPTURE(with_residual);
        CAPTURE(with_relu);
        const Tensor x0 = Tensor::randn({6, 5, 7, 9}, gen) * 2.0 + 0.5, r0 = Tensor::randn({6, 5, 7, 9}, gen);
        const Tensor g0 = Tensor::randn({5}, gen), b0 = Tensor::randn({5}, gen), up = Tensor::randn({6, 5, 7, 9}, gen);
        Tensor out[2], grads[2][4], means[2], vars[2];
        for (int fused = 0; fused < 2; ++fused) {
          Tensor x = x0.clone().set_requires_grad(true), r = r0.clone().set_requires_grad(true);
          Tensor g = g0.clone().set_requires_grad(true), b = b0.clone().set_requires_grad(true);
          Tensor rm = Tensor::full({5}, 0.3), rv = Tensor::full({5}, 1.7);
          const Tensor res = with_residual ? r : Tensor();
          Tensor y;
          if (fused) {
            y = batch_norm_add_relu(x, g, b, rm, rv, training, 0.1, 1e-5, res, with_relu);
          } else {
            y = batch_norm(x, g, b, rm, rv, training, 0.1, 1e-5);
            if (with_residual) y = y + r;
            if (with_relu) y = relu(y);
          }
          sum(y * up).backward();
          out[fused] = y.detach();
          grads[fused][0] = x.grad();
          grads[fused][1] = g.grad();
          grads[fused][2] = b.grad();
          grads[fused][3] = with_residual ? r.grad() : Tensor();
          means[fused] = rm;
          vars[fused] = rv;
        }
        // The same float32 arithmetic in the same order: equal to the last bit.
        CHECK(out[1].to_vector<float>() == out[0].to_vector<float>());
        for (int i = 0; i < 4; ++i) {
          CAPTURE(i);
          if (i == 3 && !with_residual) continue;
          CHECK(grads[1][i].to_vector<float>() == grads[0][i].to_vector<float>());
        }
        CHECK(means[1].to_vector<float>() == means[0].to_vector<float>());
        CHECK(vars[1].to_vector<float>() == vars[0].to_vector<float>());
      }
    }
  }
  CHECK_THROWS_WITH_AS(batch_norm_add_relu(Tensor::ones({2, 3, 4, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1,
                                           1e-5, Tensor::ones({2, 3, 4, 5}), true),
                       doctest::Contains("residual [2, 3, 4, 5] does not match input [2, 3, 4, 4]"), Error);
}

TEST_CASE("expanded (stride-0) gradients reach backward functions as contiguous tensors") {
  // sum's backward expands a scalar; index_select's backward hands it to a kernel that reads memory directly.
  Tensor x = param({1, 2, 3, 4, 5, 6}, {2, 3});
  sum(index_select(x.reshape({-1}), 0, Tensor::from_vector<int64_t>({0, 5, 5}, {3}))).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 0, 0, 0, 0, 2});
  Tensor w = Tensor::randn({1, 2, 5, 5}, *std::make_unique<Generator>(1), DType::Float64).set_requires_grad(true);
  Tensor k = Tensor::ones({3, 2, 3, 3}, DType::Float64);
  sum(conv2d(w, k, Tensor(), {1, 1})).backward();  // conv backward reads its gradient as (N, K, P, Q) memory
  CHECK(w.grad().to_vector<double>()[12] == doctest::Approx(3 * 9.0));  // centre pixel: every tap, 3 filters
}
