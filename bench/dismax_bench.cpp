// dismax-bench: times conv2d forward+backward and the im2col GEMMs for the layer shapes of a CIFAR ResNet,
// and one full training step of a CIFAR ResNet18, printing one line per measurement (and JSON with --json)
// so bench/compare.py can put them beside PyTorch's times for the same shapes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/parallel.h"

using namespace dismax;

namespace {

struct Result {
  std::string name;
  double ms;
};

double time_ms(const std::function<void()>& fn, int warmup, int repeat) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];  // median
}

struct ConvShape {
  int64_t cin, cout, hw, kernel, stride, pad;
};
// The distinct convolutions of a CIFAR ResNet18/34 (3x3 stem, four stages, 1x1 projection shortcuts).
const ConvShape kConvs[] = {
    {3, 64, 32, 3, 1, 1},    {64, 64, 32, 3, 1, 1},   {64, 128, 32, 3, 2, 1},  {128, 128, 16, 3, 1, 1},
    {128, 256, 16, 3, 2, 1}, {256, 256, 8, 3, 1, 1},  {256, 512, 8, 3, 2, 1},  {512, 512, 4, 3, 1, 1},
    {64, 128, 32, 1, 2, 0},  {128, 256, 16, 1, 2, 0}, {256, 512, 8, 1, 2, 0},
};

std::string conv_name(const ConvShape& c, int64_t batch) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "conv %ldx%ld %ld->%ld %ldx%ld s%ld b%ld", c.kernel, c.kernel, c.cin, c.cout, c.hw,
                c.hw, c.stride, batch);
  return buf;
}

// A CIFAR ResNet18 written directly against the engine ops (BasicBlock [2,2,2,2], 3x3 stem, no max-pool).
struct ResNet18 {
  struct Conv { Tensor w; };
  struct BN { Tensor g, b, rm, rv; };
  std::vector<Tensor> params;
  Generator gen{0};

  Tensor make_conv(int64_t cin, int64_t cout, int64_t k) {
    Tensor w = Tensor::randn({cout, cin, k, k}, gen) * std::sqrt(2.0 / (cout * k * k));
    w = w.detach().set_requires_grad(true);
    params.push_back(w);
    return w;
  }
  BN make_bn(int64_t c) {
    BN bn{Tensor::ones({c}).set_requires_grad(true), Tensor::zeros({c}).set_requires_grad(true), Tensor::zeros({c}),
          Tensor::ones({c})};
    params.push_back(bn.g);
    params.push_back(bn.b);
    return bn;
  }
  struct Block {
    Tensor w1, w2, ws;
    BN b1, b2, bs;
    int64_t stride;
  };
  Tensor stem;
  BN stem_bn;
  std::vector<Block> blocks;
  Tensor fc_w, fc_b;

  explicit ResNet18(int64_t classes) {
    stem = make_conv(3, 64, 3);
    stem_bn = make_bn(64);
    int64_t cin = 64;
    for (int64_t planes : {64, 128, 256, 512})
      for (int i = 0; i < 2; ++i) {
        Block b;
        b.stride = (i == 0 && planes != 64) ? 2 : 1;
        b.w1 = make_conv(cin, planes, 3);
        b.b1 = make_bn(planes);
        b.w2 = make_conv(planes, planes, 3);
        b.b2 = make_bn(planes);
        if (b.stride != 1 || cin != planes) {
          b.ws = make_conv(cin, planes, 1);
          b.bs = make_bn(planes);
        }
        blocks.push_back(b);
        cin = planes;
      }
    fc_w = (Tensor::rand({classes, 512}, gen) * 2.0 - 1.0) * (1.0 / std::sqrt(512.0));
    fc_w = fc_w.detach().set_requires_grad(true);
    fc_b = Tensor::zeros({classes}).set_requires_grad(true);
    params.push_back(fc_w);
    params.push_back(fc_b);
  }
  static Tensor bn(const Tensor& x, BN& p) { return batch_norm(x, p.g, p.b, p.rm, p.rv, true, 0.1, 1e-5); }
  Tensor forward(const Tensor& x) {
    Tensor h = relu(bn(conv2d(x, stem, Tensor(), {1, 1}), stem_bn));
    for (Block& b : blocks) {
      Tensor y = relu(bn(conv2d(h, b.w1, Tensor(), {b.stride, 1}), b.b1));
      y = bn(conv2d(y, b.w2, Tensor(), {1, 1}), b.b2);
      Tensor s = b.ws.defined() ? bn(conv2d(h, b.ws, Tensor(), {b.stride, 0}), b.bs) : h;
      h = relu(y + s);
    }
    return linear(global_avg_pool2d(h), fc_w, fc_b);
  }
};

void sgd_step(std::vector<Tensor>& params, std::vector<Tensor>& momentum, double lr) {
  NoGradGuard guard;
  if (momentum.empty())
    for (const Tensor& p : params) momentum.push_back(Tensor::zeros_like(p));
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor g = params[i].grad();
    g.add_(params[i], 1e-4);
    momentum[i].mul_(0.9).add_(g);
    g.add_(momentum[i], 0.9);
    params[i].add_(g, -lr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> batches = {32, 128};
  int repeat = 5;
  std::string json_path, only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "dismax-bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") set_num_threads(std::stoi(next()));
    else if (a == "--repeat") repeat = std::stoi(next());
    else if (a == "--json") json_path = next();
    else if (a == "--only") only = next();
    else if (a == "--batch") batches = {std::stoll(next())};
    else {
      std::fprintf(stderr,
                   "usage: dismax-bench [--threads N] [--repeat R] [--batch B] [--only conv|gemm|step] [--json FILE]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  std::printf("# dismax-bench: %d threads, median of %d runs, times in ms\n", num_threads(), repeat);
  std::vector<Result> results;
  auto report = [&](const std::string& name, double ms) {
    std::printf("%-40s %10.3f\n", name.c_str(), ms);
    std::fflush(stdout);
    results.push_back({name, ms});
  };
  Generator gen(1);
  for (int64_t batch : batches) {
    for (const ConvShape& c : kConvs) {
      const int64_t out_hw = (c.hw + 2 * c.pad - c.kernel) / c.stride + 1;
      if (only.empty() || only == "conv") {
        Tensor x = Tensor::randn({batch, c.cin, c.hw, c.hw}, gen).set_requires_grad(true);
        Tensor w = Tensor::randn({c.cout, c.cin, c.kernel, c.kernel}, gen).set_requires_grad(true);
        Tensor gy = Tensor::randn({batch, c.cout, out_hw, out_hw}, gen);
        report(conv_name(c, batch) + " fwd+bwd", time_ms([&] {
                 x.zero_grad();
                 w.zero_grad();
                 conv2d(x, w, Tensor(), {c.stride, c.pad}).backward(gy);
               }, 2, repeat));
      }
      if (only.empty() || only == "gemm") {
        const int64_t M = c.cout, K = c.cin * c.kernel * c.kernel, N = batch * out_hw * out_hw;
        Tensor a = Tensor::randn({M, K}, gen), b = Tensor::randn({K, N}, gen);
        char name[96];
        std::snprintf(name, sizeof name, "gemm %ldx%ldx%ld", M, K, N);
        report(name, time_ms([&] { matmul(a, b); }, 2, repeat));
      }
    }
  }
  if (only.empty() || only == "step") {
    for (int64_t batch : {int64_t{32}}) {
      ResNet18 net(10);
      std::vector<Tensor> momentum;
      Tensor x = Tensor::randn({batch, 3, 32, 32}, gen);
      std::vector<int64_t> labels(batch);
      for (int64_t i = 0; i < batch; ++i) labels[i] = i % 10;
      const Tensor hot = one_hot(Tensor::from_vector(labels, {batch}), 10);
      report("resnet18 cifar train step b" + std::to_string(batch), time_ms([&] {
               for (Tensor& p : net.params) p.zero_grad();
               Tensor logits = net.forward(x);
               Tensor loss = neg(mean(sum(mul(hot, log_softmax(logits, 1)), {1})));
               loss.backward();
               sgd_step(net.params, momentum, 0.1);
             }, 2, repeat));
    }
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << "{\"threads\": " << num_threads() << ", \"results\": {";
    for (size_t i = 0; i < results.size(); ++i)
      out << (i ? ", " : "") << "\"" << results[i].name << "\": " << results[i].ms;
    out << "}}\n";
  }
  return 0;
}
