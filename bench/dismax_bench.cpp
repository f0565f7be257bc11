// dismax-bench: times conv2d forward+backward and the im2col GEMMs for the layer shapes of a CIFAR ResNet,
// the quickstart's ResNet-20 convolutions, and full training steps of CIFAR ResNet18/34 and ResNet-20, printing one line per measurement (and JSON with --json)
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

#include "engine/grad_mode.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "layers/sgd.h"
#include "models/model.h"

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

// The distinct convolutions of the quickstart's ResNet-20 on 28x28 Fashion-MNIST (1-channel stem; in a
// network the stem needs no input gradient, and none is computed here either).
const ConvShape kSmallConvs[] = {
    {1, 16, 28, 3, 1, 1},  {16, 16, 28, 3, 1, 1}, {16, 32, 28, 3, 2, 1}, {32, 32, 14, 3, 1, 1},
    {32, 64, 14, 3, 2, 1}, {64, 64, 7, 3, 1, 1},  {16, 32, 28, 1, 2, 0}, {32, 64, 14, 1, 2, 0},
};

std::string conv_name(const ConvShape& c, int64_t batch) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "conv %ldx%ld %ld->%ld %ldx%ld s%ld b%ld", c.kernel, c.kernel, c.cin, c.cout, c.hw,
                c.hw, c.stride, batch);
  return buf;
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
                   "usage: dismax-bench [--threads N] [--repeat R] [--batch B] [--only conv|gemm|small|step] [--json FILE]\n");
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
  auto time_conv = [&](const ConvShape& c, int64_t batch) {
    const int64_t out_hw = (c.hw + 2 * c.pad - c.kernel) / c.stride + 1;
    Tensor x = Tensor::randn({batch, c.cin, c.hw, c.hw}, gen).set_requires_grad(c.cin > 1);
    Tensor w = Tensor::randn({c.cout, c.cin, c.kernel, c.kernel}, gen).set_requires_grad(true);
    Tensor gy = Tensor::randn({batch, c.cout, out_hw, out_hw}, gen);
    report(conv_name(c, batch) + " fwd+bwd", time_ms([&] {
             x.zero_grad();
             w.zero_grad();
             conv2d(x, w, Tensor(), {c.stride, c.pad}).backward(gy);
           }, 2, repeat));
  };
  // One step: forward, cross-entropy, backward, Nesterov SGD with weight decay, as bench_torch.py does.
  auto time_step = [&](const std::string& label, const std::string& arch, int64_t batch, int64_t channels,
                       int64_t hw) {
    Generator init(0);
    ModelConfig config;
    config.in_channels = channels;
    auto net = make_model(arch, 10, init, config);
    SGD opt(net->named_parameters(), {0.1, 0.9, 0.0, 1e-4, true});
    Tensor x = Tensor::randn({batch, channels, hw, hw}, gen);
    std::vector<int64_t> labels(batch);
    for (int64_t i = 0; i < batch; ++i) labels[i] = i % 10;
    const Tensor hot = one_hot(Tensor::from_vector(labels, {batch}), 10);
    report(label + " train step b" + std::to_string(batch), time_ms([&] {
             opt.zero_grad();
             Tensor loss = neg(mean(sum(mul(hot, log_softmax(net->forward(x), 1)), {1})));
             loss.backward();
             opt.step();
           }, 2, repeat));
  };
  for (int64_t batch : batches) {
    for (const ConvShape& c : kConvs) {
      const int64_t out_hw = (c.hw + 2 * c.pad - c.kernel) / c.stride + 1;
      if (only.empty() || only == "conv") time_conv(c, batch);
      if (only.empty() || only == "gemm") {
        const int64_t M = c.cout, K = c.cin * c.kernel * c.kernel, N = batch * out_hw * out_hw;
        Tensor a = Tensor::randn({M, K}, gen), b = Tensor::randn({K, N}, gen);
        char name[96];
        std::snprintf(name, sizeof name, "gemm %ldx%ldx%ld", M, K, N);
        report(name, time_ms([&] { matmul(a, b); }, 2, repeat));
      }
    }
  }
  if (only.empty() || only == "small") {
    for (const ConvShape& c : kSmallConvs) time_conv(c, 128);
    time_step("resnet20 fmnist", "resnet20", 128, 1, 28);
  }
  if (only.empty() || only == "step") {
    for (int64_t batch : batches) {
      time_step("resnet18 cifar", "resnet18cifar", batch, 3, 32);
      time_step("resnet34 cifar", "resnet34", batch, 3, 32);
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
