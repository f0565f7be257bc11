// CUDA-vs-CPU checks beyond tests/test_cuda_parity.cpp that need the emulator or are cheap only there:
// float64 ops, GEMM operand shapes (M/N/K = 1, padded and transposed views, empty products), TF32 on and
// off, and recovery from a failed device allocation (EMU_MALLOC_LIMIT).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <functional>

#include "engine/math_mode.h"
#include "engine/ops.h"

using namespace dismax;

namespace {

const Device kGpu = Device::cuda(0);

Tensor randn(const Shape& s, uint64_t seed, DType dt = DType::Float32) {
  Generator g(seed);
  return Tensor::randn(s, g, TensorOptions(dt));
}

// Largest |cpu - gpu| relative to the largest |cpu| (at least 1e-3); infinite where only one is NaN.
double rel(const Tensor& cpu, const Tensor& gpu) {
  const auto a = cpu.to(DType::Float64).to_vector<double>(),
             b = gpu.to(Device::cpu()).to(DType::Float64).to_vector<double>();
  double scale = 1e-3, err = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(a[i]));
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
    err = std::max(err, std::abs(a[i] - b[i]));
  }
  return err / scale;
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// f on both devices from the same inputs: the outputs and the gradients of sum(w * f(inputs)) must agree.
void check(const std::string& name, const Fn& f, const std::vector<Tensor>& in, double tol) {
  std::vector<Tensor> c, g;
  for (const Tensor& t : in) {
    c.push_back(t.detach().clone().set_requires_grad(true));
    g.push_back(t.detach().to(kGpu).set_requires_grad(true));
  }
  const Tensor yc = f(c), yg = f(g);
  const double e = rel(yc, yg);
  CHECK_MESSAGE(e <= tol, name << " forward " << e);
  const Tensor w = randn(yc.sizes(), 99, yc.dtype());
  sum(mul(yc, w)).backward();
  sum(mul(yg, w.to(kGpu))).backward();
  for (size_t k = 0; k < in.size(); ++k) {
    const double eg = rel(c[k].grad(), g[k].grad());
    CHECK_MESSAGE(eg <= tol, name << " grad " << k << " " << eg);
  }
}

}  // namespace

TEST_SUITE("cuda_edge_cases") {
  TEST_CASE("float64 on the GPU") {
    const DType d = DType::Float64;
    check(
        "matmul f64", [](auto& v) { return matmul(v[0], v[1]); },
        {randn({33, 70}, 1, d), randn({70, 21}, 2, d)}, 1e-12);
    check(
        "matmul f64 transposes", [](auto& v) { return matmul(v[1].t(), v[0].t()); },
        {randn({33, 70}, 1, d), randn({70, 21}, 2, d)}, 1e-12);
    check(
        "conv f64",
        [](auto& v) {
          return conv2d(v[0], v[1], v[2], {2, 1});
        },
        {randn({2, 5, 11, 9}, 3, d), randn({7, 5, 3, 3}, 4, d), randn({7}, 5, d)}, 1e-12);
    check(
        "conv f64 1x1",
        [](auto& v) {
          return conv2d(v[0], v[1], Tensor(), {1, 0});
        },
        {randn({2, 5, 6, 6}, 3, d), randn({4, 5, 1, 1}, 4, d)}, 1e-12);
    check(
        "bn f64", [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
        {randn({6, 4, 5, 5}, 6, d), randn({4}, 7, d), randn({4}, 8, d)}, 1e-12);
    check(
        "log_softmax f64", [](auto& v) { return log_softmax(v[0], 1); }, {randn({9, 300}, 9, d)}, 1e-12);
    check(
        "cdist f64", [](auto& v) { return cdist(v[0], v[1]); },
        {randn({9, 30}, 10, d), randn({5, 30}, 11, d)}, 1e-12);
    check(
        "pool f64", [](auto& v) { return max_pool2d(v[0], 3, 2, 1) + avg_pool2d(v[0], 3, 2, 1); },
        {randn({2, 3, 9, 8}, 12, d)}, 1e-12);
  }

  TEST_CASE("GEMM operand shapes") {
    check(
        "M=1", [](auto& v) { return matmul(v[0], v[1]); }, {randn({1, 17}, 1), randn({17, 5}, 2)}, 1e-5);
    check(
        "N=1", [](auto& v) { return matmul(v[0], v[1]); }, {randn({6, 17}, 1), randn({17, 1}, 2)}, 1e-5);
    check(
        "K=1", [](auto& v) { return matmul(v[0], v[1]); }, {randn({6, 1}, 1), randn({1, 5}, 2)}, 1e-5);
    check(
        "1x1x1", [](auto& v) { return matmul(v[0], v[1]); }, {randn({1, 1}, 1), randn({1, 1}, 2)}, 1e-5);
    check(
        "column-major with padding", [](auto& v) { return matmul(v[0].t().narrow(0, 1, 6), v[1]); },
        {randn({9, 8}, 1), randn({9, 5}, 2)}, 1e-5);
    check(
        "transposed slice both",
        [](auto& v) { return matmul(v[0].narrow(1, 2, 7).t(), v[1].narrow(0, 1, 4).t()); },
        {randn({4, 12}, 1), randn({6, 4}, 2)}, 1e-5);
    check(
        "expanded operand",
        [](auto& v) {
          return matmul(v[0].unsqueeze(0).expand({5, 7}), v[1]);
        },
        {randn({7}, 1), randn({7, 3}, 2)}, 1e-5);
    {
      const Tensor r = matmul(Tensor::zeros({3, 0}, kGpu), Tensor::zeros({0, 4}, kGpu)) + 1.0;
      CHECK(r.to(Device::cpu()).to_vector<float>() == std::vector<float>(12, 1.0f));
    }
    CHECK_NOTHROW(
        Tensor::zeros({3, 0}).to(kGpu));  // an empty tensor counts as contiguous whatever its strides
  }

  TEST_CASE("TF32 allowed: the tensor-core engines and TF32 GEMM are used") {
    // With TF32 allowed the GPU reads GEMM and convolution inputs with 10 mantissa bits: random inputs then
    // differ from the CPU by about 1e-4..1e-3. With it off they agree to float32 precision.
    const Tensor a = randn({64, 200}, 1), b = randn({200, 30}, 2);
    const Tensor x = randn({2, 8, 10, 10}, 3), w = randn({8, 8, 3, 3}, 4);
    auto gemm_error = [&] { return rel(matmul(a, b), matmul(a.to(kGpu), b.to(kGpu))); };
    auto conv_error = [&] {
      return rel(conv2d(x, w, Tensor(), {1, 1}), conv2d(x.to(kGpu), w.to(kGpu), Tensor(), {1, 1}));
    };
    set_allow_tf32(true);
    CHECK(gemm_error() > 1e-6);
    CHECK(conv_error() > 1e-6);
    set_allow_tf32(false);
    CHECK(gemm_error() < 1e-5);
    CHECK(conv_error() < 1e-5);
  }

  TEST_CASE("a failed device allocation does not poison the next launch check") {
    const Tensor x = randn({1000}, 1).to(kGpu);
    setenv("EMU_MALLOC_LIMIT", "100000000", 1);
    CHECK_THROWS(Tensor::empty({int64_t{1} << 28}, TensorOptions(DType::Float32).device(kGpu)));
    unsetenv("EMU_MALLOC_LIMIT");
    Tensor y;
    CHECK_NOTHROW(y = x * 2.0 + 1.0);
    CHECK(rel(randn({1000}, 1) * 2.0 + 1.0, y) < 1e-6);
  }
}
