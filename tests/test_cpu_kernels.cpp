// The float32 CPU kernels against the float64 ones (which take the plain Eigen/explicit paths), over shapes
// that reach every path of the implicit-GEMM convolution and of the direct 3x3 weight gradient (stride 1 and >1, kernels 1 to 7, asymmetric
// strides and paddings, padding larger than the kernel, few and many channels, empty batches), batch norm,
// and the thread pool behind parallel_for.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/cpu/cpu_kernels.h"
#include "engine/ops.h"
#include "engine/generator.h"
#include "engine/parallel.h"
#include "engine/tensor.h"

using namespace dismax;

namespace {
double max_relative(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i])) return INFINITY;
    num = std::max(num, std::abs(va[i] - vb[i]));
    den = std::max(den, std::abs(vb[i]));
  }
  return num / std::max(den, 1e-30);
}
struct ConvCase {
  int64_t n, cin, cout, h, w, r, s, sh, sw, ph, pw;
  bool bias;
};
}  // namespace

TEST_CASE("conv2d kernels: float32 paths agree with float64 on every path") {
  const ConvCase cases[] = {
      {2, 3, 5, 9, 9, 3, 3, 2, 2, 1, 1, true},     {3, 5, 7, 9, 9, 3, 3, 1, 1, 1, 1, false},
      {4, 16, 32, 8, 8, 3, 3, 1, 1, 1, 1, false},  {8, 64, 64, 32, 32, 3, 3, 1, 1, 1, 1, false},
      {8, 64, 128, 32, 32, 3, 3, 2, 2, 1, 1, false}, {8, 128, 128, 16, 16, 3, 3, 1, 1, 1, 1, true},
      {4, 256, 512, 8, 8, 3, 3, 2, 2, 1, 1, false}, {4, 512, 512, 4, 4, 3, 3, 1, 1, 1, 1, false},
      {8, 64, 128, 32, 32, 1, 1, 2, 2, 0, 0, false}, {5, 24, 12, 7, 7, 1, 1, 1, 1, 0, 0, true},
      {3, 7, 11, 13, 11, 3, 3, 1, 1, 1, 1, true},   {2, 3, 8, 15, 17, 7, 7, 2, 2, 3, 3, false},
      {3, 6, 9, 10, 10, 5, 5, 1, 1, 2, 2, false},   {2, 4, 6, 9, 9, 3, 3, 1, 1, 0, 0, true},
      {1, 3, 4, 5, 5, 2, 3, 1, 2, 1, 0, false},     {2, 3, 4, 6, 6, 1, 1, 1, 1, 1, 1, false},
      {7, 10, 20, 5, 5, 3, 3, 1, 1, 1, 1, false},   {3, 33, 17, 11, 11, 3, 1, 2, 1, 1, 0, true},
      {2, 20, 40, 8, 8, 3, 3, 3, 3, 1, 1, false},   {64, 16, 16, 3, 3, 3, 3, 1, 1, 1, 1, false},
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, false},     {0, 3, 4, 5, 5, 3, 3, 1, 1, 1, 1, true},
      {0, 40, 36, 9, 9, 3, 3, 2, 2, 1, 1, false},   {2, 3, 4, 9, 9, 3, 3, 2, 2, 0, 0, true},
      {2, 3, 4, 8, 8, 2, 2, 2, 2, 0, 0, false},     {2, 3, 4, 11, 11, 3, 3, 4, 4, 1, 1, false},
      {2, 5, 6, 10, 7, 1, 1, 3, 2, 0, 0, false},    {2, 3, 4, 6, 6, 3, 3, 2, 2, 2, 2, false},
      {3, 4, 5, 7, 7, 3, 3, 1, 1, 2, 2, false},     {2, 40, 36, 9, 9, 3, 3, 2, 2, 1, 1, true},
      {33, 17, 19, 6, 6, 3, 3, 2, 2, 1, 1, false},  {4, 48, 12, 8, 8, 3, 3, 1, 1, 1, 1, false},
      // The direct 3x3 stride-1 weight gradient (up to 16 channels, planes of 14 x 14 and more): every tile width
      // of output channels, paddings 0 to 2, a 1-channel stem, odd sizes, a batch of one.
      {3, 16, 16, 28, 28, 3, 3, 1, 1, 1, 1, false}, {2, 5, 7, 14, 17, 3, 3, 1, 1, 1, 1, true},
      {2, 4, 8, 16, 16, 3, 3, 1, 1, 0, 0, false},   {2, 3, 2, 15, 14, 3, 3, 1, 1, 2, 2, false},
      {1, 16, 16, 14, 14, 3, 3, 1, 1, 1, 1, false}, {5, 1, 16, 28, 28, 3, 3, 1, 1, 1, 1, false},
  };
  Generator gen(3);
  for (const ConvCase& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.cin);
    CAPTURE(c.cout);
    CAPTURE(c.h);
    CAPTURE(c.r);
    CAPTURE(c.sh);
    CAPTURE(c.ph);
    const int64_t P = (c.h + 2 * c.ph - c.r) / c.sh + 1, Q = (c.w + 2 * c.pw - c.s) / c.sw + 1;
    const Tensor x = Tensor::randn({c.n, c.cin, c.h, c.w}, gen), w = Tensor::randn({c.cout, c.cin, c.r, c.s}, gen);
    const Tensor b = Tensor::randn({c.cout}, gen), gy = Tensor::randn({c.n, c.cout, P, Q}, gen);
    const Conv2dArgs args{c.sh, c.sw, c.ph, c.pw};
    Tensor out[2][4];
    for (int d = 0; d < 2; ++d) {
      const DType dt = d ? DType::Float64 : DType::Float32;
      const Tensor xd = x.to(dt), wd = w.to(dt), bd = b.to(dt), gyd = gy.to(dt);
      Tensor y = Tensor::empty({c.n, c.cout, P, Q}, dt), gx = Tensor::empty(x.sizes(), dt);
      Tensor gw = Tensor::empty(w.sizes(), dt), gb = Tensor::empty({c.cout}, dt);
      cpu::fill(y, NAN);  // outputs must be written, never read
      cpu::fill(gx, NAN);
      cpu::fill(gw, NAN);
      cpu::conv2d_forward(xd, wd, c.bias ? bd : Tensor(), args, y);
      Tensor gb_opt = c.bias ? gb : Tensor();
      cpu::conv2d_backward(gyd, xd, wd, args, gx, gw, gb_opt);
      out[d][0] = y;
      out[d][1] = gx;
      out[d][2] = gw;
      out[d][3] = gb;
    }
    CHECK(max_relative(out[0][0], out[1][0]) < 1e-5);
    CHECK(max_relative(out[0][1], out[1][1]) < 1e-5);
    CHECK(max_relative(out[0][2], out[1][2]) < 1e-5);
    if (c.bias) CHECK(max_relative(out[0][3], out[1][3]) < 1e-5);
    // Only the input gradient asked for.
    Tensor gx = Tensor::empty(x.sizes(), DType::Float32), none_w, none_b;
    cpu::fill(gx, NAN);
    cpu::conv2d_backward(gy, x, w, args, gx, none_w, none_b);
    CHECK(max_relative(gx, out[1][1]) < 1e-5);
  }
}

TEST_CASE("batch-norm kernels: float32 agrees with float64, means far from zero included") {
  Generator gen(5);
  const int64_t shapes[][4] = {{3, 5, 7, 9}, {2, 17, 1, 1}, {16, 64, 32, 32}, {4, 3, 5, 3}, {7, 2, 4, 4}, {1, 3, 1, 33}};
  for (const auto& s : shapes) {
    CAPTURE(s[1]);
    // A mean far from zero tests the shifted one-pass statistics; not with two values per channel, where the
    // input gradient is exactly zero and only rounding noise would be compared.
    const double offset = s[0] * s[2] * s[3] > 2 ? 50.0 : 0.0;
    const Tensor x = Tensor::randn({s[0], s[1], s[2], s[3]}, gen) * 3.0 + offset, gy = Tensor::randn(x.sizes(), gen);
    const Tensor g = Tensor::randn({s[1]}, gen), b = Tensor::randn({s[1]}, gen);
    Tensor res[2][6];
    for (int d = 0; d < 2; ++d) {
      const DType dt = d ? DType::Float64 : DType::Float32;
      const Tensor xd = x.to(dt), gyd = gy.to(dt), gd = g.to(dt), bd = b.to(dt);
      Tensor rm = Tensor::zeros({s[1]}, dt), rv = Tensor::ones({s[1]}, dt);
      Tensor y = Tensor::empty(x.sizes(), dt), mean = Tensor::empty({s[1]}, dt), invstd = Tensor::empty({s[1]}, dt);
      cpu::batch_norm_forward_train(xd, gd, bd, rm, rv, 0.1, 1e-5, y, mean, invstd);
      Tensor gx = Tensor::empty(x.sizes(), dt), gg = Tensor::empty({s[1]}, dt), gb = Tensor::empty({s[1]}, dt);
      cpu::batch_norm_backward(gyd, xd, gd, mean, invstd, true, gx, gg, gb);
      res[d][0] = y;
      res[d][1] = rv;
      res[d][2] = gx;
      res[d][3] = gg;
      res[d][4] = gb;
      res[d][5] = mean;
    }
    for (int i = 0; i < 6; ++i) CHECK(max_relative(res[0][i], res[1][i]) < 1e-4);
  }
}

TEST_CASE("the thread pool: sums, nesting, exceptions, concurrent callers, resizing") {
  const int before = num_threads();
  set_num_threads(2);
  std::atomic<int64_t> sum{0};
  std::atomic<bool> nested_ok{true};
  parallel_for(0, 1000000, 1000, [&](int64_t b, int64_t e) {
    int64_t s = 0;
    for (int64_t i = b; i < e; ++i) s += i;
    parallel_for(0, 10, 1, [&](int64_t, int64_t) { nested_ok = nested_ok && in_parallel_region(); });
    sum += s;
  });
  CHECK(sum.load() == int64_t{1000000} * 999999 / 2);
  CHECK(nested_ok.load());
  CHECK_THROWS_WITH_AS(parallel_for(0, 1000, 1, [&](int64_t b, int64_t) {
                         if (b > 500) throw std::runtime_error("boom");
                       }),
                       "boom", std::runtime_error);
  std::atomic<int> count{0};
  parallel_tasks(100, 2, [&](int64_t) { ++count; });
  CHECK(count.load() == 100);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int r = 0; r < 500; ++r) parallel_tasks(50, 2, [&](int64_t i) { total += i; });
    });
  for (auto& t : callers) t.join();
  CHECK(total.load() == int64_t{4} * 500 * (49 * 50 / 2));
  set_num_threads(3);
  count = 0;
  parallel_tasks(1000, 3, [&](int64_t) { ++count; });
  CHECK(count.load() == 1000);
  set_num_threads(1);
  count = 0;
  parallel_tasks(1000, 3, [&](int64_t) { ++count; });
  CHECK(count.load() == 1000);
  set_num_threads(before);
}
