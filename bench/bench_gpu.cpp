// dismax-bench-gpu: training images/s of the paper's CIFAR architectures on a GPU, one line per model
// (and JSON with --json) so tools/gpu-check.sh can put them beside PyTorch eager on the same GPU.
// A step is what dismax-train does: a pinned batch uploaded asynchronously, forward, loss, backward, SGD
// with momentum and weight decay; the host reads nothing back until the timed steps are over.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/kernels.h"
#include "engine/math_mode.h"
#include "engine/ops.h"
#include "layers/sgd.h"
#include "experiment/model_with_loss.h"
#include "models/model.h"

using namespace dismax;

namespace {

struct Options {
  std::vector<std::string> models;
  std::string loss = "softmax";
  std::string device = "cuda";
  int64_t batch = 128, image = 32, warmup = 5, steps = 30;
  std::string json;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "dismax-bench-gpu: %s\n"
               "usage: dismax-bench-gpu [--model NAME]... [--loss softmax|dismax|dismax_fpr] [--batch 128]\n"
               "                        [--steps 30] [--warmup 5] [--device cuda] [--tf32] [--json FILE]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--model") o.models.push_back(value());
    else if (a == "--loss") o.loss = value();
    else if (a == "--device") o.device = value();
    else if (a == "--batch") o.batch = std::stoll(value());
    else if (a == "--steps") o.steps = std::stoll(value());
    else if (a == "--warmup") o.warmup = std::stoll(value());
    else if (a == "--json") o.json = value();
    else if (a == "--tf32") set_allow_tf32(true);
    else usage(("unknown argument " + a).c_str());
  }
  if (o.models.empty()) o.models = {"resnet34", "wideresnet2810", "densenetbc100", "resnet18"};
  if (o.batch < 1 || o.steps < 1 || o.warmup < 0) usage("--batch and --steps must be positive");
  return o;
}

double images_per_second(const std::string& name, const Options& o, Device device) {
  Generator gen(1);
  auto model = make_model(name, 10, gen);
  auto criterion = attach_loss(*model, parse_loss(o.loss), gen);
  model->to(device);
  model->train();
  SGD optimizer(model->named_parameters(), {0.1, 0.9, 0.0, 5e-4, false});
  const int64_t image = name == "resnet18" ? 224 : o.image;  // the ImageNet ResNet18 at ImageNet resolution
  const Tensor images = Tensor::randn({o.batch, 3, image, image}, gen).pin_memory();
  std::vector<int64_t> y(static_cast<size_t>(o.batch));
  for (int64_t i = 0; i < o.batch; ++i) y[i] = i % 10;
  const Tensor labels = Tensor::from_vector(y, {o.batch});
  Generator batch_gen(2);
  auto step = [&] {
    auto [x, t] = criterion->preprocess(images.to(device), labels, batch_gen);
    Tensor loss = criterion->forward(model->forward(x), t);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    return loss;
  };
  const Backend& backend = backend_for(device);
  for (int64_t i = 0; i < o.warmup; ++i) step();
  backend.synchronize(device.index);
  const auto t0 = std::chrono::steady_clock::now();
  Tensor last;
  for (int64_t i = 0; i < o.steps; ++i) last = step();
  backend.synchronize(device.index);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  DISMAX_CHECK(std::isfinite(last.item()), name, ": the benchmark's loss is not finite");
  return static_cast<double>(o.batch * o.steps) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const Device device = parse_device(o.device);
    std::string json = "{";
    for (const std::string& name : o.models) {
      const double ips = images_per_second(name, o, device);
      std::printf("%-16s batch %ld  %s  %9.1f images/s\n", name.c_str(), static_cast<long>(o.batch), o.loss.c_str(), ips);
      std::fflush(stdout);
      json += (json.size() > 1 ? ", \"" : "\"") + name + "\": " + std::to_string(ips);
    }
    json += "}";
    if (!o.json.empty()) std::ofstream(o.json) << json << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dismax-bench-gpu: %s\n", e.what());
    return 1;
  }
}
