// CUDA-vs-CPU checks beyond tests/test_cuda_parity.cpp that need the emulator or are cheap only there:
// float64 ops, GEMM operand shapes (M/N/K = 1, padded and transposed views, empty products), TF32 on and
// off, and recovery from a failed device allocation (EMU_MALLOC_LIMIT); the choice and denial of cuDNN
// engines, the float64 fallback (EMU_CUDNN_NO_DOUBLE), 2-D copies for cat, vectorised elementwise kernels on
// unaligned views, the library version check (EMU_CUDNN_CUDART) and BatchNorm's batch counter.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <functional>

#include "engine/cuda/library_versions.h"
#include "engine/kernels.h"
#include "engine/math_mode.h"
#include "engine/ops.h"
#include "layers/batch_norm.h"

using namespace dismax;

namespace {

const Device kGpu = Device::cuda(0);

bool fake_env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

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

  TEST_CASE("cuDNN engines: Winograd is chosen unless denied, and the diagnostics name the engine") {
    // The emulated catalogue's fastest usable engine for a 3x3 stride-1 convolution is Winograd.
    const Tensor x = randn({2, 4, 9, 9}, 31), w = randn({6, 4, 3, 3}, 32);
    const Tensor xg = x.to(kGpu), wg = w.to(kGpu);
    (void)conv2d(xg, wg, Tensor(), {1, 1}).to(Device::cpu());
    const std::string allowed = backend_diagnostics(kGpu);
    CHECK(allowed.find("conv2d forward") != std::string::npos);
    CHECK(allowed.find("WINOGRAD") != std::string::npos);
    {
      DeniedConvAlgorithmsGuard deny(kConvWinograd | kConvFft);
      const Tensor y = conv2d(xg, wg, Tensor(), {1, 1});
      CHECK(rel(conv2d(x, w, Tensor(), {1, 1}), y) < 1e-5);
      const std::string denied = backend_diagnostics(kGpu);
      const std::string last = denied.substr(denied.rfind("cuDNN conv2d"));
      CHECK(last.find("WINOGRAD") == std::string::npos);
    }
    CHECK(parse_conv_algorithm_families("winograd,fft") == (kConvWinograd | kConvFft));
    CHECK_THROWS_WITH(parse_conv_algorithm_families("winograd,fast"),
                      doctest::Contains("unknown convolution algorithm family 'fast'"));
  }

  TEST_CASE("float64 convolutions without a cuDNN engine run as im2col + DGEMM") {
    // With EMU_CUDNN_NO_DOUBLE=1 cuDNN offers nothing for float64 and every case below takes the fallback;
    // without it they run on cuDNN. Either way they must match the CPU to float64 precision.
    const DType d = DType::Float64;
    for (const auto& [stride, pad] : {std::pair{1, 1}, std::pair{2, 0}, std::pair{2, 3}, std::pair{3, 2}}) {
      check("conv f64 5x3 stride " + std::to_string(stride) + " pad " + std::to_string(pad),
            [stride = stride, pad = pad](auto& v) {
              return conv2d(v[0], v[1], v[2], {stride, pad});
            },
            {randn({3, 4, 13, 10}, 40, d), randn({5, 4, 5, 3}, 41, d), randn({5}, 42, d)}, 1e-12);
    }
    if (fake_env("EMU_CUDNN_NO_DOUBLE")) {
      const std::string plans = backend_diagnostics(kGpu);
      CHECK_MESSAGE(plans.find("float64") == std::string::npos, plans);
    }
  }

  TEST_CASE("cat along channels and its backward (DenseNet's pattern) as 2-D copies") {
    for (int64_t n : {1, 3}) {
      check("cat channels batch " + std::to_string(n),
            [](auto& v) { return cat({v[0], v[1], v[2]}, 1); },
            {randn({n, 5, 7, 6}, 50), randn({n, 1, 7, 6}, 51), randn({n, 12, 7, 6}, 52)}, 0);
    }
    check("cat rows", [](auto& v) { return cat({v[0], v[1]}, 0); }, {randn({3, 9}, 53), randn({2, 9}, 54)}, 0);
    check("cat last dim", [](auto& v) { return cat({v[0], v[1]}, 2); }, {randn({2, 3, 5}, 55), randn({2, 3, 1}, 56)}, 0);
    check("permuted copy (not rows)", [](auto& v) { return v[0].permute({0, 2, 3, 1}).contiguous(); },
          {randn({2, 3, 4, 5}, 57)}, 0);
  }

  TEST_CASE("elementwise kernels on unaligned views and lengths that are not whole vectors") {
    for (int64_t start : {0, 1, 2, 3}) {
      for (int64_t length : {1, 4, 7, 1029}) {
        check("unary/binary at offset " + std::to_string(start) + " length " + std::to_string(length),
              [start, length](auto& v) {
                const Tensor a = v[0].narrow(0, start, length), b = v[1].narrow(0, start, length);
                return exp(a) * b + a / (abs(b) + 1.0);
              },
              {randn({1040}, 60), randn({1040}, 61)}, 1e-6);
        check("float64 at offset " + std::to_string(start),
              [start, length](auto& v) { return sqrt(abs(v[0].narrow(0, start, length))) + v[0].narrow(0, start, length); },
              {randn({1040}, 62, DType::Float64)}, 1e-14);
      }
    }
    Tensor filled = Tensor::empty({1027}, TensorOptions(DType::Float32).device(kGpu));
    filled.narrow(0, 1, 1026).fill_(2.5);
    const auto v = filled.to(Device::cpu()).to_vector<float>();
    CHECK(std::all_of(v.begin() + 1, v.end(), [](float x) { return x == 2.5f; }));
  }

  TEST_CASE("CUDA, cuDNN and cuBLAS versions: a mismatched set is refused with one line") {
    cuda::LibraryVersions ok{13000, 13000, 91900, 91900, 13000, 13000};
    CHECK(cuda::library_mismatch(ok).empty());
    cuda::LibraryVersions wheel = ok;
    wheel.cudnn_cudart = 12090;
    const std::string why = cuda::library_mismatch(wheel);
    CHECK(why.find("cuDNN 9.19.0 was built for CUDA 12.9 but the CUDA runtime (libcudart) is 13.0") !=
          std::string::npos);
    CHECK(why.find('\n') == std::string::npos);
    if (fake_env("EMU_CUDNN_CUDART")) {
      // The whole backend is refused at start-up, with that line as the reason.
      CHECK(!backend_available(DeviceType::CUDA));
      CHECK_THROWS_WITH(backend_for(kGpu), doctest::Contains("was built for CUDA"));
    } else {
      CHECK(cuda::library_mismatch(cuda::loaded_library_versions()).empty());
    }
  }

  TEST_CASE("BatchNorm counts its batches on the GPU") {
    BatchNorm2d bn(3);
    bn.to(kGpu);
    const Tensor x = randn({4, 3, 5, 5}, 70).to(kGpu);
    for (int i = 0; i < 3; ++i) (void)bn.forward(x);
    int64_t counted = -1;
    for (const auto& [name, t] : bn.state_dict())
      if (name == "num_batches_tracked") counted = t.to(Device::cpu()).item<int64_t>();
    CHECK(counted == 3);
    bn.eval();
    (void)bn.forward(x);
    CHECK(bn.batches_tracked() == 3);
  }
}
