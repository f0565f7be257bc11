// CPU-vs-CUDA parity: every op forward and backward, the random fills, the SGD update, every loss and a
// training step of each architecture, run on both devices from the same float32 inputs. Without a usable
// GPU each case prints why it is skipped (tools/gpu-check.sh runs this suite on a GPU machine).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <iostream>

#include "engine/autograd/node.h"
#include "engine/kernels.h"
#include "engine/math_mode.h"
#include "engine/ops.h"
#include "layers/sgd.h"
#include "experiment/model_with_loss.h"
#include "losses/scores.h"
#include "models/model.h"

using namespace dismax;

namespace {

const Device kGpu = Device::cuda(0);

bool gpu_present() {
  static const bool present = [] {
    if (backend_available(DeviceType::CUDA)) return true;
    try {
      backend_for(Device::cuda(0));
    } catch (const Error& e) {
      std::cout << "[skip] CPU-vs-CUDA parity: " << e.what() << "\n";
    }
    return false;
  }();
  return present;
}

#define REQUIRE_GPU()                                                      \
  if (!gpu_present()) {                                                    \
    MESSAGE("skipped: no usable CUDA device (see the [skip] line above)"); \
    return;                                                                \
  }

Tensor randn(const Shape& shape, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  Generator gen(seed);
  return Tensor::randn(shape, gen) * scale + shift;
}

Tensor uniform(const Shape& shape, uint64_t seed, double low, double high) {
  Generator gen(seed);
  return Tensor::rand(shape, gen) * (high - low) + low;
}

// Largest |a - b| relative to the largest |a| (at least `floor`), so a tolerance reads as "digits that agree".
double relative_error(const Tensor& cpu, const Tensor& gpu, double floor = 1e-3) {
  REQUIRE(gpu.device() == kGpu);
  REQUIRE(cpu.sizes() == gpu.sizes());
  const auto a = cpu.to_vector<double>(), b = gpu.to(Device::cpu()).to_vector<double>();
  double scale = floor, err = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(a[i]));
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
    if (!std::isnan(a[i])) err = std::max(err, std::abs(a[i] - b[i]));
  }
  return err / scale;
}

// A failure names the cuDNN engines of the latest convolutions too (Backend::diagnostics).
void check_close(const std::string& what, const Tensor& cpu, const Tensor& gpu, double tol) {
  const double err = relative_error(cpu, gpu);
  CHECK_MESSAGE(err <= tol, what << ": relative error " << err << " > " << tol << " (" << cpu.describe() << ")\n"
                                 << backend_diagnostics(kGpu));
}

// Winograd and FFT engines lose bits against direct summation by design: the 1e-4 checks deny them.
constexpr unsigned kTransformEngines = kConvWinograd | kConvFft;

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs f on the CPU and on the GPU from the same inputs, compares the outputs and the gradients of
// sum(w * f(inputs)) for a fixed random w. Integer inputs are moved but get no gradient.
void check_op(const std::string& name, const Fn& f, const std::vector<Tensor>& inputs, double tol = 1e-5) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone(), g = t.detach().to(kGpu);
    if (is_floating(t.dtype())) {
      c.set_requires_grad(true);
      g.set_requires_grad(true);
    }
    cpu.push_back(c);
    gpu.push_back(g);
  }
  const Tensor y_cpu = f(cpu), y_gpu = f(gpu);
  REQUIRE_MESSAGE(y_gpu.device() == kGpu, name << ": the result left the GPU");
  check_close(name + " forward", y_cpu, y_gpu, tol);
  if (!is_floating(y_cpu.dtype()) || !y_cpu.requires_grad()) return;
  Generator gen(99);
  const Tensor w = Tensor::randn(y_cpu.sizes(), gen);
  sum(mul(y_cpu, w)).backward();
  sum(mul(y_gpu, w.to(kGpu))).backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!cpu[k].requires_grad()) continue;
    REQUIRE_MESSAGE(cpu[k].grad().defined() == gpu[k].grad().defined(), name << ": input " << k);
    if (cpu[k].grad().defined())
      check_close(name + " gradient of input " + std::to_string(k), cpu[k].grad(), gpu[k].grad(), tol);
  }
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("copies, fills and dtype conversions") {
    REQUIRE_GPU();
    const Tensor x = randn({5, 7}, 1);
    CHECK(x.to(kGpu).to(Device::cpu()).to_vector<float>() == x.to_vector<float>());
    CHECK(x.to(kGpu).to(DType::Float64).to(Device::cpu()).to_vector<double>() == x.to(DType::Float64).to_vector<double>());
    CHECK(x.to(kGpu).t().contiguous().to(Device::cpu()).to_vector<float>() == x.t().contiguous().to_vector<float>());
    const Tensor labels = Tensor::from_vector<int64_t>({3, 0, 2, 2}, {4});
    CHECK(labels.to(kGpu).to(DType::Float32).to(Device::cpu()).to_vector<float>() == std::vector<float>{3, 0, 2, 2});
    Tensor f = Tensor::full({3, 4}, 2.5, kGpu);
    CHECK(f.to(Device::cpu()).to_vector<float>() == std::vector<float>(12, 2.5f));
    Tensor part = Tensor::zeros({4, 6}, kGpu);
    part.narrow(1, 2, 3).fill_(7.0);
    CHECK(part.to(Device::cpu()).to_vector<float>() == [] {
      Tensor h = Tensor::zeros({4, 6});
      h.narrow(1, 2, 3).fill_(7.0);
      return h.to_vector<float>();
    }());
    const Tensor pinned = x.pin_memory();
    CHECK(pinned.is_pinned());
    CHECK(pinned.to(kGpu).to(Device::cpu()).to_vector<float>() == x.to_vector<float>());
  }

  TEST_CASE("random fills are the CPU's streams") {
    REQUIRE_GPU();
    for (DType dtype : {DType::Float32, DType::Float64}) {
      Generator gc(5), gg(5);
      CHECK(Tensor::rand({1001}, gc, dtype).to_vector<double>() ==
            Tensor::rand({1001}, gg, TensorOptions(dtype).device(kGpu)).to_vector<double>());
      CHECK(gc.offset() == gg.offset());
      const Tensor nc = Tensor::randn({999}, gc, dtype), ng = Tensor::randn({999}, gg, TensorOptions(dtype).device(kGpu));
      CHECK(relative_error(nc, ng) <= 1e-6);  // libm and CUDA's sin/cos/log may differ in the last bit
    }
    Generator dc(8), dg(8);
    const Tensor x = Tensor::ones({64, 33});
    CHECK(dropout(x, 0.3, true, dc).to_vector<float>() == dropout(x.to(kGpu), 0.3, true, dg).to(Device::cpu()).to_vector<float>());
  }

  TEST_CASE("elementwise with broadcasting and strided views") {
    REQUIRE_GPU();
    const Tensor a = randn({3, 1, 5}, 1), b = randn({4, 5}, 2), pos = uniform({4, 5}, 3, 0.5, 2.0);
    check_op("add", [](auto& v) { return add(v[0], v[1], 0.7); }, {a, b});
    check_op("sub", [](auto& v) { return v[0] - v[1]; }, {a, b});
    check_op("mul", [](auto& v) { return v[0] * v[1]; }, {a, b});
    check_op("div", [](auto& v) { return v[0] / v[1]; }, {a, pos});
    check_op("maximum", [](auto& v) { return maximum(v[0], v[1]); }, {a, b});
    check_op("minimum", [](auto& v) { return minimum(v[0], v[1]); }, {a, b});
    check_op("scalar ops", [](auto& v) { return (2.0 - v[0] * 3.0) / 1.5 + 1.0; }, {a});
    const Tensor x = randn({37, 29}, 5), p = uniform({37, 29}, 6, 0.2, 3.0);
    check_op("neg", [](auto& v) { return -v[0]; }, {x});
    check_op("abs", [](auto& v) { return abs(v[0]); }, {x});
    check_op("exp", [](auto& v) { return exp(v[0]); }, {x});
    check_op("log", [](auto& v) { return log(v[0]); }, {p});
    check_op("sqrt", [](auto& v) { return sqrt(v[0]); }, {p});
    check_op("square", [](auto& v) { return square(v[0]); }, {x});
    check_op("pow 2.5", [](auto& v) { return pow(v[0], 2.5); }, {p});
    check_op("clamp", [](auto& v) { return clamp(v[0], -0.5, 0.6); }, {x});
    check_op("relu", [](auto& v) { return relu(v[0]); }, {x});
    check_op("sign", [](auto& v) { return sign(v[0]); }, {x});
    check_op("gt / eq", [](auto& v) { return gt(v[0], 0.1) + eq(v[0], v[0]); }, {x});
    check_op("exp of transpose", [](auto& v) { return exp(v[0].t()); }, {x});
    check_op("mul of slices", [](auto& v) { return v[0].narrow(1, 1, 13) * v[0].narrow(1, 15, 13); }, {x});
    check_op("large broadcast", [](auto& v) { return v[0] * v[1]; }, {randn({64, 128, 1, 1}, 7), randn({128, 16, 16}, 8)});
  }

  TEST_CASE("reductions, max and softmax") {
    REQUIRE_GPU();
    const Tensor x = randn({3, 50, 41}, 8);
    check_op("sum all", [](auto& v) { return sum(v[0]); }, {x}, 1e-5);
    check_op("sum dims", [](auto& v) { return sum(v[0], {0, 2}); }, {x});
    check_op("mean last", [](auto& v) { return mean(v[0], {-1}); }, {x});
    check_op("mean first", [](auto& v) { return mean(v[0], {0}); }, {x});
    check_op("max dim 1", [](auto& v) { return max(v[0], 1).first; }, {x});
    check_op("max last", [](auto& v) { return max(v[0], -1).first; }, {x});
    check_op("sum of 1M", [](auto& v) { return sum(v[0]); }, {randn({1 << 20}, 9)}, 1e-5);
    const Tensor ties = Tensor::from_vector<float>({1, 3, 3, 0, 2, 2, 2, 1}, {2, 4});
    CHECK(argmax(ties.to(kGpu), 1).to(Device::cpu()).to_vector<int64_t>() == argmax(ties, 1).to_vector<int64_t>());
    const Tensor z = randn({128, 100}, 10, 3.0);
    check_op("softmax", [](auto& v) { return softmax(v[0], 1); }, {z});
    check_op("log_softmax", [](auto& v) { return log_softmax(v[0], -1); }, {z});
    check_op("softmax dim 0", [](auto& v) { return softmax(v[0], 0); }, {z});
    check_op("log_softmax 3d middle", [](auto& v) { return log_softmax(v[0], 1); }, {randn({2, 5, 3}, 11)});
    check_op("log_softmax wide rows", [](auto& v) { return log_softmax(v[0], 1); }, {randn({4, 5000}, 12)});
  }

  TEST_CASE("matmul and linear") {
    REQUIRE_GPU();
    const Tensor a = randn({65, 130}, 11), b = randn({130, 33}, 12);
    check_op("matmul", [](auto& v) { return matmul(v[0], v[1]); }, {a, b});
    check_op("matmul of transposes", [](auto& v) { return matmul(v[1].t(), v[0].t()); }, {a, b});
    check_op("matmul of a slice", [](auto& v) { return matmul(v[0].narrow(1, 3, 100), v[1].narrow(0, 5, 100)); }, {a, b});
    const Tensor x = randn({64, 640}, 13), w = randn({10, 640}, 14), bias = randn({10}, 15);
    check_op("linear", [](auto& v) { return linear(v[0], v[1], v[2]); }, {x, w, bias});
    check_op("linear without bias", [](auto& v) { return linear(v[0], v[1], Tensor()); }, {x, w});
  }

  TEST_CASE("conv2d") {
    REQUIRE_GPU();
    DeniedConvAlgorithmsGuard deny(kTransformEngines);
    const Tensor x = randn({4, 16, 17, 15}, 16), w = randn({32, 16, 3, 3}, 17, 0.1), b = randn({32}, 18);
    check_op("conv 3x3 pad 1", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}); }, {x, w}, 1e-4);
    check_op("conv 3x3 stride 2 bias", [](auto& v) { return conv2d(v[0], v[1], v[2], {2, 1}); }, {x, w, b}, 1e-4);
    check_op("conv 1x1 stride 2", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {2, 0}); },
             {x, randn({8, 16, 1, 1}, 19)}, 1e-4);
    check_op("conv 7x7 stride 2 pad 3", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {2, 3}); },
             {randn({2, 3, 64, 64}, 20), randn({64, 3, 7, 7}, 21, 0.1)}, 1e-4);
    check_op("conv on permuted input", [](auto& v) { return conv2d(v[0].permute({0, 3, 1, 2}), v[1], Tensor(), {1, 2}); },
             {randn({2, 9, 8, 3}, 22), randn({5, 3, 5, 5}, 23)}, 1e-4);
    check_op("conv batch 128", [](auto& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}); },
             {randn({128, 64, 32, 32}, 24), randn({64, 64, 3, 3}, 25, 0.05)}, 1e-4);
  }

  TEST_CASE("batch norm, training and eval") {
    REQUIRE_GPU();
    const Tensor x = randn({8, 24, 9, 7}, 22, 2.0, 1.0), g = randn({24}, 23), b = randn({24}, 24);
    check_op("bn train", [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
             {x, g, b}, 1e-4);
    check_op("bn train 2d", [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
             {randn({33, 24}, 25), g, b}, 1e-4);
    check_op("bn no affine", [](auto& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); },
             {x}, 1e-4);
    check_op("bn large", [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
             {randn({128, 16, 32, 32}, 26, 3.0, 5.0), randn({16}, 27), randn({16}, 28)}, 1e-4);
    const Tensor rm = randn({24}, 26), rv = uniform({24}, 27, 0.5, 2.0);
    check_op("bn eval", [&](auto& v) {
      return batch_norm(v[0], v[1], v[2], v[0].device().is_cpu() ? rm : rm.to(kGpu),
                        v[0].device().is_cpu() ? rv : rv.to(kGpu), false, 0.1, 1e-5);
    }, {x, g, b}, 1e-4);
    // Running statistics: unbiased variance, momentum, PyTorch's update.
    Tensor rmc = rm.clone(), rvc = rv.clone(), rmg = rm.to(kGpu), rvg = rv.to(kGpu);
    {
      NoGradGuard guard;
      batch_norm(x, g, b, rmc, rvc, true, 0.3, 1e-5);
      batch_norm(x.to(kGpu), g.to(kGpu), b.to(kGpu), rmg, rvg, true, 0.3, 1e-5);
    }
    check_close("running_mean", rmc, rmg, 1e-5);
    check_close("running_var", rvc, rvg, 1e-5);
  }

  TEST_CASE("batch norm + residual + ReLU, fused") {
    REQUIRE_GPU();
    const Tensor x = randn({8, 24, 9, 7}, 30, 2.0, 1.0), g = randn({24}, 31), b = randn({24}, 32);
    const Tensor r = randn({8, 24, 9, 7}, 33);
    check_op("bn + residual + relu train",
             [](auto& v) { return batch_norm_add_relu(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5, v[3], true); },
             {x, g, b, r}, 1e-4);
    check_op("bn + relu train",
             [](auto& v) { return batch_norm_add_relu(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5, Tensor(), true); },
             {x, g, b}, 1e-4);
    check_op("bn + residual train",
             [](auto& v) { return batch_norm_add_relu(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5, v[3], false); },
             {x, g, b, r}, 1e-4);
    const Tensor rm = randn({24}, 34), rv = uniform({24}, 35, 0.5, 2.0);
    check_op("bn + residual + relu eval", [&](auto& v) {
      return batch_norm_add_relu(v[0], v[1], v[2], v[0].device().is_cpu() ? rm : rm.to(kGpu),
                                 v[0].device().is_cpu() ? rv : rv.to(kGpu), false, 0.1, 1e-5, v[3], true);
    }, {x, g, b, r}, 1e-4);
  }

  TEST_CASE("pooling") {
    REQUIRE_GPU();
    const Tensor x = randn({4, 6, 17, 18}, 28);
    check_op("max_pool 3/2/1", [](auto& v) { return max_pool2d(v[0], 3, 2, 1); }, {x});
    check_op("max_pool 2/2", [](auto& v) { return max_pool2d(v[0], 2, 2); }, {x});
    check_op("avg_pool 2/2", [](auto& v) { return avg_pool2d(v[0], 2, 2); }, {x});
    check_op("avg_pool 3/2/1", [](auto& v) { return avg_pool2d(v[0], 3, 2, 1); }, {x});
    check_op("avg_pool 3/2/1 no pad count", [](auto& v) { return avg_pool2d(v[0], 3, 2, 1, false); }, {x});
    check_op("global avg", [](auto& v) { return global_avg_pool2d(v[0]); }, {x});
  }

  TEST_CASE("views, cat, indexing, roll, one-hot") {
    REQUIRE_GPU();
    const Tensor x = randn({6, 4, 5}, 29);
    check_op("permute contiguous", [](auto& v) { return v[0].permute({2, 0, 1}).contiguous(); }, {x});
    check_op("expand", [](auto& v) { return v[0].unsqueeze(0).expand({2, 6, 4, 5}) * 1.0; }, {x});
    check_op("cat dim 1", [](auto& v) { return cat({v[0], v[1].narrow(1, 0, 2), v[0]}, 1); }, {x, randn({6, 3, 5}, 30)});
    const Tensor idx = Tensor::from_vector<int64_t>({2, 0, 2, 1, 5}, {5});
    check_op("index_select repeated", [&](auto& v) { return index_select(v[0], 0, v[0].device().is_cpu() ? idx : idx.to(kGpu)); }, {x});
    const Tensor idx2 = Tensor::from_vector<int64_t>({4, 4, 0}, {3});
    check_op("index_select dim 2", [&](auto& v) { return index_select(v[0], 2, v[0].device().is_cpu() ? idx2 : idx2.to(kGpu)); }, {x});
    check_op("roll sub-range", [](auto& v) { return roll(v[0], 2, 0, 1, 4); }, {x});
    const Tensor labels = Tensor::from_vector<int64_t>({3, 0, 9, 3}, {4});
    CHECK(one_hot(labels.to(kGpu), 10).to(Device::cpu()).to_vector<float>() == one_hot(labels, 10).to_vector<float>());
  }

  TEST_CASE("distances and normalisation") {
    REQUIRE_GPU();
    const Tensor a = randn({64, 342}, 31), b = randn({100, 342}, 32);
    check_op("norm", [](auto& v) { return norm(v[0], 1); }, {a});
    check_op("normalize", [](auto& v) { return normalize(v[0], 1); }, {a});
    check_op("cdist", [](auto& v) { return cdist(v[0], v[1]); }, {a, b});
    check_op("cdist of normalized", [](auto& v) { return cdist(normalize(v[0]), normalize(v[1])); }, {a, b});
    Tensor p = Tensor::from_vector<float>({1, 2, 3, 0, 0, 0}, {2, 3});
    check_op("cdist at zero distance", [](auto& v) { return cdist(v[0], v[1]); }, {p, p.narrow(0, 0, 1)});
  }

  TEST_CASE("SGD update with momentum, Nesterov and weight decay, all parameters in one launch") {
    REQUIRE_GPU();
    for (bool nesterov : {false, true}) {
      // Sizes across the 16384-element chunks of the one-launch update; the third parameter gets no gradient.
      const std::vector<Shape> shapes{{37, 11}, {3, 16384 + 5}, {7}, {40000}};
      std::vector<Tensor> pc, pg;
      NamedTensors named_c, named_g;
      for (size_t i = 0; i < shapes.size(); ++i) {
        pc.push_back(randn(shapes[i], 40 + i).set_requires_grad(true));
        pg.push_back(pc.back().detach().to(kGpu).set_requires_grad(true));
        named_c.emplace_back("p" + std::to_string(i), pc.back());
        named_g.emplace_back("p" + std::to_string(i), pg.back());
      }
      SgdOptions o;
      o.lr = 0.1;
      o.momentum = 0.9;
      o.weight_decay = 5e-4;
      o.nesterov = nesterov;
      SGD sc(named_c, o), sg(named_g, o);
      for (int step = 0; step < 3; ++step) {
        for (size_t i = 0; i < shapes.size(); ++i) {
          if (i == 2) continue;
          const Tensor g = randn(shapes[i], 50 + 10 * step + i);
          pc[i].set_grad(g);
          pg[i].set_grad(g.to(kGpu));
        }
        sc.step();
        sg.step();
      }
      for (size_t i = 0; i < shapes.size(); ++i)
        check_close((nesterov ? "sgd nesterov p" : "sgd p") + std::to_string(i), pc[i].detach(), pg[i].detach(), 1e-6);
      CHECK(pg[2].to(Device::cpu()).to_vector<float>() == pc[2].to_vector<float>());  // untouched
    }
  }

  TEST_CASE("every loss, with and without FPR, and the scores") {
    REQUIRE_GPU();
    for (const std::string name : {"softmax", "isomax", "isomaxplus", "dismax", "dismax_fpr", "dismax_fpr_0.5"}) {
      CAPTURE(name);
      const LossSpec spec = parse_loss(name);
      Generator gen(3);
      auto head_cpu = make_head(spec.family, 48, 10, gen);
      auto head_gpu = make_head(spec.family, 48, 10, gen);
      head_gpu->load_state_dict(head_cpu->state_dict());
      head_gpu->to(kGpu);
      auto crit_cpu = make_criterion(spec, head_cpu), crit_gpu = make_criterion(spec, head_gpu);
      const Tensor features = randn({9, 48}, 50);
      const Tensor targets = Tensor::from_vector<int64_t>({0, 3, 9, 1, 1, 5, 7, 2, 4}, {9});
      Tensor fc = features.clone().set_requires_grad(true), fg = features.to(kGpu).set_requires_grad(true);
      const Tensor logits_c = (*head_cpu)(fc), logits_g = (*head_gpu)(fg);
      check_close("logits", logits_c, logits_g, 1e-5);
      const Tensor loss_c = crit_cpu->forward(logits_c, targets), loss_g = crit_gpu->forward(logits_g, targets.to(kGpu));
      check_close("loss", loss_c, loss_g, 1e-5);
      loss_c.backward();
      loss_g.backward();
      check_close("feature gradient", fc.grad(), fg.grad(), 1e-4);
      const auto pc = head_cpu->named_parameters(), pg = head_gpu->named_parameters();
      for (size_t i = 0; i < pc.size(); ++i)
        if (pc[i].second.grad().defined()) check_close(pc[i].first + " gradient", pc[i].second.grad(), pg[i].second.grad(), 1e-4);
      NoGradGuard guard;
      for (Score s : {Score::MPS, Score::ES, Score::MDS, Score::MMLS, Score::MMLES, Score::MMLEPS})
        check_close("score " + score_name(s), compute_score(logits_c.detach(), s), compute_score(logits_g.detach(), s), 1e-4);
    }
    // The FPR batch preprocessing (shuffle + quadrant rolls) is the same permutation on both devices.
    const LossSpec spec = parse_loss("dismax_fpr");
    Generator g0(4), gc(11), gg(11);
    auto crit = make_criterion(spec, make_head("dismax", 8, 3, g0));
    const Tensor images = randn({7, 3, 8, 8}, 60);
    const Tensor labels = Tensor::from_vector<int64_t>({0, 1, 2, 0, 1, 2, 0}, {7});
    const auto [xc, yc] = crit->preprocess(images, labels, gc);
    const auto [xg, yg] = crit->preprocess(images.to(kGpu), labels.to(kGpu), gg);
    CHECK(xg.device() == kGpu);
    CHECK(xc.to_vector<float>() == xg.to(Device::cpu()).to_vector<float>());
    CHECK(yc.to_vector<int64_t>() == yg.to(Device::cpu()).to_vector<int64_t>());
  }

  // A training step (DisMax loss, training-mode batch norm) of each architecture on both devices.
  // In float64 the two must agree almost exactly: any layout or indexing error shows as O(1). In float32 the
  // comparison is only a smoke test: DenseNet's and WRN's gradients move by ~2e-3 (L2) under 1e-7 input noise
  // (ReLU inputs near zero land on either side), measured on an emulated GPU.
  TEST_CASE("a training step of every architecture") {
    REQUIRE_GPU();
    DeniedConvAlgorithmsGuard deny(kTransformEngines);
    struct Case {
      const char* model;
      int64_t image;
    };
    for (const Case c : {Case{"resnet34", 32}, Case{"densenetbc100", 32}, Case{"wideresnet2810", 32},
                         Case{"resnet18", 64}, Case{"resnet18cifar", 32}, Case{"resnet20", 32}}) {
      for (DType dtype : {DType::Float64, DType::Float32}) {
        const std::string model = c.model, type = dtype_name(dtype);
        CAPTURE(model);
        CAPTURE(type);
        Generator g1(7), g2(7);
        auto mc = make_model(c.model, 10, g1), mg = make_model(c.model, 10, g2);
        auto crit_c = attach_loss(*mc, parse_loss("dismax"), g1);
        auto crit_g = attach_loss(*mg, parse_loss("dismax"), g2);
        mg->load_state_dict(mc->state_dict());
        mc->to(dtype);
        mg->to(dtype);
        mg->to(kGpu);
        mc->train();
        mg->train();
        const Tensor x = randn({4, 3, c.image, c.image}, 70).to(dtype);
        const Tensor y = Tensor::from_vector<int64_t>({1, 7, 3, 3}, {4});
        // Float64 runs through im2col + cublasDgemm where cuDNN has no float64 engine.
        const Tensor lg = crit_g->forward((*mg)(x.to(kGpu)), y.to(kGpu));
        const Tensor lc = crit_c->forward((*mc)(x), y);
        const bool exact = dtype == DType::Float64;
        check_close("loss", lc, lg, exact ? 1e-12 : 1e-4);
        lc.backward();
        lg.backward();
        const auto pc = mc->named_parameters(), pg = mg->named_parameters();
        double worst = 0.0, diff2 = 0.0, norm2 = 0.0;
        std::string worst_name;
        for (size_t i = 0; i < pc.size(); ++i) {
          if (!pc[i].second.grad().defined()) continue;
          REQUIRE(pg[i].second.grad().defined());
          const double e = relative_error(pc[i].second.grad(), pg[i].second.grad(), 1e-2);
          if (e > worst) worst = e, worst_name = pc[i].first;
          const auto a = pc[i].second.grad().to_vector<double>(), b = pg[i].second.grad().to_vector<double>();
          for (size_t k = 0; k < a.size(); ++k) diff2 += (a[k] - b[k]) * (a[k] - b[k]), norm2 += a[k] * a[k];
        }
        const double l2 = std::sqrt(diff2 / std::max(norm2, 1e-300));
        CHECK_MESSAGE(l2 <= (exact ? 1e-10 : 1e-2), "all gradients: relative L2 error " << l2);
        if (exact) CHECK_MESSAGE(worst <= 1e-9, "worst gradient " << worst_name << ": relative error " << worst);
        const auto bc = mc->named_buffers(), bg = mg->named_buffers();
        for (size_t i = 0; i < bc.size(); ++i)
          if (is_floating(bc[i].second.dtype()))
            check_close(bc[i].first, bc[i].second, bg[i].second, exact ? 1e-10 : 1e-3);
      }
    }
  }
}
