// Misuse throws dismax::Error whose message names the op and the shapes involved.
#include <doctest/doctest.h>

#include "engine/autograd/node.h"
#include "engine/kernels.h"
#include "engine/ops.h"

using namespace dismax;

TEST_CASE("shape mismatches name the op and the shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3});
  CHECK_THROWS_WITH_AS(a + b, doctest::Contains("add: shapes [2, 3] and [4, 3]"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("matmul: shapes [2, 3] and [4, 3]"), Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({1, 3, 8, 8}), Tensor::zeros({4, 2, 3, 3})),
                       doctest::Contains("conv2d: input [1, 3, 8, 8] has 3 channels but weight [4, 2, 3, 3]"), Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({3, 8, 8}), Tensor::zeros({4, 3, 3, 3})),
                       doctest::Contains("conv2d: input must have 4 dimensions"), Error);
  CHECK_THROWS_WITH_AS(cdist(Tensor::zeros({2, 3}), Tensor::zeros({2, 4})), doctest::Contains("cdist"), Error);
  CHECK_THROWS_WITH_AS(a.view({4, 2}), doctest::Contains("view: shape [4, 2] is invalid"), Error);
  CHECK_THROWS_WITH_AS(a.t().view({6}), doctest::Contains("cannot view"), Error);
  CHECK_THROWS_WITH_AS(a.narrow(1, 2, 2), doctest::Contains("narrow: range [2, 4)"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({2, 3, 4, 4}), Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true,
                                  0.1, 1e-5),
                       doctest::Contains("batch_norm: weight [4] does not match 3 channels"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::zeros({1, 1, 2, 2}), 3, 1), doctest::Contains("max_pool2d"), Error);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("sum: dim 2 is out of range"), Error);
}

TEST_CASE("dtype and index errors") {
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}) + Tensor::zeros({2}, DType::Float64), doctest::Contains("mixed dtypes"), Error);
  CHECK_THROWS_WITH_AS(one_hot(Tensor::from_vector<int64_t>({0, 5}, {2}), 3),
                       doctest::Contains("one_hot: labels[1] = 5 is out of range [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(index_select(Tensor::zeros({3, 2}), 0, Tensor::from_vector<int64_t>({3}, {1})),
                       doctest::Contains("index_select: index[0] = 3"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).data<double>(), doctest::Contains("float32"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::Float16), doctest::Contains("not supported"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::Int64).set_requires_grad(true), doctest::Contains("floating"), Error);
}

TEST_CASE("a device that is not there is an error, never a silent fallback") {
  if (backend_available(DeviceType::CUDA)) {
    MESSAGE("a CUDA device is present; checking an out-of-range index instead");
    CHECK_THROWS_WITH_AS(Tensor::zeros({2}, Device::cuda(999)), doctest::Contains("cuda:999"), Error);
    return;
  }
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}, Device::cuda(0)), doctest::Contains("cuda:0 is not available"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).to(Device::cuda(0)), doctest::Contains("cuda:0"), Error);
  CHECK_THROWS_WITH_AS(parse_device("gpu"), doctest::Contains("unknown device 'gpu'"), Error);
}

TEST_CASE("backward twice through freed buffers names the op and shapes") {
  Tensor w = Tensor::ones({2, 3}).set_requires_grad(true);
  Tensor y = sum(exp(w));
  y.backward();
  try {
    y.backward();
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("a second time") != std::string::npos);
    CHECK(msg.find("sum([2, 3])") != std::string::npos);
  }
}

TEST_CASE("in-place writes to saved tensors and to tensors requiring grad are refused") {
  Tensor w = Tensor::ones({3}).set_requires_grad(true);
  CHECK_THROWS_WITH_AS(w.fill_(2.0), doctest::Contains("fill_: in-place write"), Error);
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor y = sum(w * x);  // saves x for w's gradient
  x.fill_(5.0);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("modified by an in-place operation"), Error);
}

TEST_CASE("undefined tensors are reported, not dereferenced") {
  Tensor u;
  CHECK_THROWS_WITH_AS(u.sizes(), doctest::Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(relu(u), doctest::Contains("relu: input is an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).backward(), doctest::Contains("does not require grad"), Error);
}
