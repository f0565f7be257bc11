#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/allocator.h"
#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/parallel.h"

using namespace dismax;

TEST_CASE("creation, shape and strides") {
  Tensor t = Tensor::zeros({2, 3, 4});
  CHECK(t.dim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.strides() == Shape{12, 4, 1});
  CHECK(t.dtype() == DType::Float32);
  CHECK(t.device() == Device::cpu());
  CHECK(t.is_contiguous());
  CHECK(Tensor::ones({2}, DType::Float64).to_vector<double>() == std::vector<double>{1, 1});
  CHECK(Tensor::full({3}, 2.5).to_vector<float>() == std::vector<float>{2.5f, 2.5f, 2.5f});
  CHECK(Tensor::arange(4).to_vector<float>() == std::vector<float>{0, 1, 2, 3});
  CHECK(Tensor::scalar(3.0).dim() == 0);
  CHECK(Tensor::scalar(3.0).item() == 3.0);
  CHECK(Tensor::empty({0, 5}).numel() == 0);
}

TEST_CASE("views share storage and compose strides") {
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor tt = t.t();
  CHECK(tt.sizes() == Shape{3, 2});
  CHECK(tt.strides() == Shape{1, 3});
  CHECK(!tt.is_contiguous());
  CHECK(tt.contiguous().to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(tt.storage() == t.storage());
  Tensor col = t.narrow(1, 1, 2);
  CHECK(col.storage_offset() == 1);
  CHECK(col.to_vector<float>() == std::vector<float>{1, 2, 4, 5});
  CHECK(t.select(0, 1).to_vector<float>() == std::vector<float>{3, 4, 5});
  CHECK(t.reshape({3, 2}).storage() == t.storage());  // contiguous: a view
  Tensor copied = tt.reshape({6});                      // not viewable: copies
  CHECK(copied.storage() != t.storage());
  CHECK(copied.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(t.unsqueeze(0).sizes() == Shape{1, 2, 3});
  CHECK(t.unsqueeze(-1).sizes() == Shape{2, 3, 1});
  CHECK(t.reshape({-1}).sizes() == Shape{6});
  CHECK(t.expand({4, 2, 3}).strides() == Shape{0, 3, 1});
  CHECK(t.permute({1, 0}).flatten().to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  // Writing through a view is visible in the base.
  {
    Tensor v = t.narrow(0, 1, 1);
    v.fill_(9);
  }
  CHECK(t.to_vector<float>() == std::vector<float>{0, 1, 2, 9, 9, 9});
}

TEST_CASE("dtype conversion and copies") {
  Tensor t = Tensor::from_vector<float>({1.5f, -2.25f}, {2});
  CHECK(t.to(DType::Float64).to_vector<double>() == std::vector<double>{1.5, -2.25});
  CHECK(t.to(DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{1, -2});
  Tensor dst = Tensor::zeros({2, 2});
  dst.copy_(Tensor::from_vector<double>({1, 2}, {2}));  // broadcast + convert
  CHECK(dst.to_vector<float>() == std::vector<float>{1, 2, 1, 2});
  Tensor c = t.clone();
  c.fill_(0);
  CHECK(t.to_vector<float>() == std::vector<float>{1.5f, -2.25f});
}

TEST_CASE("generator: seeded, counter-based, independent streams") {
  Generator g1(42), g2(42), g3(43);
  const auto a = Tensor::randn({1000}, g1).to_vector<float>();
  const auto b = Tensor::randn({1000}, g2).to_vector<float>();
  const auto c = Tensor::randn({1000}, g3).to_vector<float>();
  CHECK(a == b);
  CHECK(a != c);
  double m = 0, v = 0;
  for (float x : a) m += x;
  m /= a.size();
  for (float x : a) v += (x - m) * (x - m);
  v /= a.size();
  CHECK(std::abs(m) < 0.1);
  CHECK(std::abs(v - 1.0) < 0.15);
  const auto u = Tensor::rand({2000}, g1).to_vector<float>();
  for (float x : u) CHECK((x >= 0.0f && x < 1.0f));
  // The state is two integers: restoring it replays the stream.
  Generator g4(7);
  Tensor::rand({10}, g4);
  const uint64_t seed = g4.seed(), offset = g4.offset();
  const auto next = Tensor::rand({5}, g4).to_vector<float>();
  Generator g5(0);
  g5.set_state(seed, offset);
  CHECK(Tensor::rand({5}, g5).to_vector<float>() == next);
  // The result does not depend on the thread count.
  const int threads = num_threads();
  set_num_threads(1);
  Generator s1(5);
  const auto one = Tensor::randn({100001}, s1).to_vector<float>();
  set_num_threads(2);
  Generator s2(5);
  CHECK(Tensor::randn({100001}, s2).to_vector<float>() == one);
  set_num_threads(threads);
}

TEST_CASE("randperm is a permutation and reproducible") {
  Generator g(3), h(3);
  const auto p = randperm(1000, g).to_vector<int64_t>();
  CHECK(std::set<int64_t>(p.begin(), p.end()).size() == 1000);
  CHECK(*std::min_element(p.begin(), p.end()) == 0);
  CHECK(*std::max_element(p.begin(), p.end()) == 999);
  CHECK(randperm(1000, h).to_vector<int64_t>() == p);
}

TEST_CASE("the caching allocator stops allocating in a steady loop") {
  auto step = [] {
    Tensor a = Tensor::ones({64, 128});
    Tensor b = relu(a * 2.0 + 1.0);
    return sum(b).item();
  };
  step();
  const auto before = cpu_allocator().stats().system_allocations;
  for (int i = 0; i < 20; ++i) CHECK(step() == doctest::Approx(64 * 128 * 3.0));
  CHECK(cpu_allocator().stats().system_allocations == before);
}

TEST_CASE("thread count can be set") {
  const int before = num_threads();
  set_num_threads(1);
  CHECK(num_threads() == 1);
  set_num_threads(before);
  CHECK_THROWS_WITH_AS(set_num_threads(0), doctest::Contains("thread count"), Error);
}

TEST_CASE("elementwise ops: values and broadcasting") {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<float>({10, 20, 30}, {3});
  CHECK((a + b).to_vector<float>() == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK((a * b.unsqueeze(0)).to_vector<float>() == std::vector<float>{10, 40, 90, 40, 100, 180});
  Tensor c = Tensor::from_vector<float>({1, 2}, {2, 1});
  CHECK((a - c).to_vector<float>() == std::vector<float>{0, 1, 2, 2, 3, 4});
  CHECK(clamp(a, 2, 4).to_vector<float>() == std::vector<float>{2, 2, 3, 4, 4, 4});
  CHECK(sum(a, {0}).to_vector<float>() == std::vector<float>{5, 7, 9});
  CHECK(mean(a, {1}).to_vector<float>() == std::vector<float>{2, 5});
  CHECK(argmax(a, 1).to_vector<int64_t>() == std::vector<int64_t>{2, 2});
  CHECK(max(Tensor::from_vector<float>({3, 1, 3}, {3}), 0).second.item<int64_t>() == 0);  // first on ties
  CHECK(one_hot(Tensor::from_vector<int64_t>({2, 0}, {2}), 3).to_vector<float>() ==
        std::vector<float>{0, 0, 1, 1, 0, 0});
  const auto s = softmax(Tensor::from_vector<float>({1000, 1000}, {1, 2}), 1).to_vector<float>();
  CHECK(s == std::vector<float>{0.5f, 0.5f});  // max-subtracted: no overflow
}

TEST_CASE("roll within a sub-range of the batch") {
  Tensor x = Tensor::arange(6).reshape({6, 1});
  // rows 2..5 rolled by 1: new local m takes old local (m - 1) mod 4
  CHECK(roll(x, 1, 0, 2, 4).reshape({-1}).to_vector<float>() == std::vector<float>{0, 1, 5, 2, 3, 4});
  CHECK(roll(x, 3, 0, 2, 4).reshape({-1}).to_vector<float>() == std::vector<float>{0, 1, 3, 4, 5, 2});
  CHECK(roll(x, 7, 0, 5, 1).reshape({-1}).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("float32 conv2d matches float64") {
  Generator gen(11);
  Tensor x = Tensor::randn({3, 5, 9, 9}, gen), w = Tensor::randn({7, 5, 3, 3}, gen);
  const auto y32 = conv2d(x, w, Tensor(), {2, 1}).to_vector<double>();
  const auto y64 = conv2d(x.to(DType::Float64), w.to(DType::Float64), Tensor(), {2, 1}).to_vector<double>();
  REQUIRE(y32.size() == y64.size());
  for (size_t i = 0; i < y32.size(); ++i) CHECK(y32[i] == doctest::Approx(y64[i]).epsilon(1e-4));
}
