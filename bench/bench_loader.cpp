// Input-pipeline throughput (images/s) of the DataLoader, per worker-thread count:
//   folder: JPEG decode + RandomResizedCrop(224) + flip + normalise on generated 500x375 JPEGs
//   cifar:  in-memory CIFAR batch + pad-4 random crop + flip + normalise
// The same files feed bench/bench_loader_torch.py (PyTorch DataLoader + torchvision transforms).
//   build/bench/dismax-bench-loader --dir /tmp/dismax_loader_bench --images 300 --threads 1,2 [--json
//   out.json]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/registry.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "datasets/transforms.h"
#include "engine/error.h"
#include "engine/generator.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {

// A photo-like 500x375 image: smooth colour blobs, a few stripes and mild noise (so JPEGs have realistic
// sizes and decode times).
Image synthetic_photo(Generator& gen, int width, int height) {
  Image img(width, height, 3);
  double cx[4], cy[4], r[4], col[4][3];
  for (int b = 0; b < 4; ++b) {
    cx[b] = gen.next_double() * width;
    cy[b] = gen.next_double() * height;
    r[b] = 40 + gen.next_double() * 160;
    for (int c = 0; c < 3; ++c) col[b][c] = gen.next_double() * 255;
  }
  const double fx = 0.02 + gen.next_double() * 0.1, fy = 0.02 + gen.next_double() * 0.1;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        double v = 0, w = 0;
        for (int b = 0; b < 4; ++b) {
          const double d2 = ((x - cx[b]) * (x - cx[b]) + (y - cy[b]) * (y - cy[b])) / (r[b] * r[b]);
          const double k = std::exp(-d2);
          v += k * col[b][c];
          w += k;
        }
        v = v / (w + 1e-3) * 0.8 + 25 * std::sin(fx * x + fy * y + c) + 20;
        v += static_cast<double>(gen.next_u32() % 17) - 8;
        img.at(x, y, c) = static_cast<uint8_t>(std::min(255.0, std::max(0.0, v)));
      }
  return img;
}

void generate(const fs::path& dir, int images) {
  const fs::path folder = dir / "imagenet_like";
  if (!fs::exists(folder / ".complete")) {
    std::cerr << "generating " << images << " 500x375 JPEGs in " << folder << "\n";
    fs::remove_all(folder);
    for (int i = 0; i < images; ++i) {
      Generator gen(1000 + i);
      const fs::path cls = folder / ("class_" + std::to_string(i % 10));
      fs::create_directories(cls);
      char name[32];
      std::snprintf(name, sizeof(name), "img_%04d.JPEG", i);
      write_image((cls / name).string(), synthetic_photo(gen, 500, 375), 90);
    }
    std::ofstream(folder / ".complete") << images;
  }
  const fs::path cifar = dir / "cifar-10-batches-bin" / "data_batch_1.bin";
  if (!fs::exists(cifar)) {
    fs::create_directories(cifar.parent_path());
    std::string bytes(10000 * 3073, '\0');
    Generator gen(7);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(gen.next_u32() & 0xFF);
    for (int n = 0; n < 10000; ++n) bytes[static_cast<size_t>(n) * 3073] = static_cast<char>(n % 10);
    std::ofstream(cifar, std::ios::binary) << bytes;
  }
}

struct Result {
  std::string pipeline;
  int threads;
  double images_per_s;
};

// Images/s of one epoch after a warm-up epoch.
double measure(std::shared_ptr<const Dataset> ds, const Transform& t, int64_t batch, int threads,
               int epochs) {
  LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = true;
  o.seed = 1;
  o.workers = threads;
  o.prefetch_batches = 2 * threads;
  DataLoader loader(std::move(ds), t, o);
  loader.start_epoch(0);
  while (loader.next()) {
  }
  int64_t n = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int e = 1; e <= epochs; ++e) {
    loader.start_epoch(e);
    while (auto b = loader.next()) n += b->size();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(n) / s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = (fs::temp_directory_path() / "dismax_loader_bench").string(), json, only;
  int images = 300, epochs = 2;
  std::vector<int> threads = {1, 2};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir")
      dir = value();
    else if (a == "--images")
      images = std::stoi(value());
    else if (a == "--epochs")
      epochs = std::stoi(value());
    else if (a == "--json")
      json = value();
    else if (a == "--only")
      only = value();
    else if (a == "--threads") {
      threads.clear();
      std::stringstream ss(value());
      for (std::string t; std::getline(ss, t, ',');) threads.push_back(std::stoi(t));
    } else {
      std::cerr << "usage: dismax-bench-loader [--dir DIR] [--images N] [--threads 1,2] [--epochs N] "
                   "[--only folder|cifar] [--json FILE]\n";
      return 2;
    }
  }
  try {
    generate(dir, images);
    std::vector<Result> results;
    if (only.empty() || only == "folder") {
      auto folder = open_dataset("folder", (fs::path(dir) / "imagenet_like").string(), "");
      for (int t : threads)
        results.push_back({"folder", t, measure(folder, train_transform("imagenet"), 32, t, epochs)});
    }
    if (only.empty() || only == "cifar") {
      auto cifar = read_cifar_binary({(fs::path(dir) / "cifar-10-batches-bin" / "data_batch_1.bin").string()},
                                     10, 1, "cifar10");
      for (int t : threads)
        results.push_back({"cifar", t, measure(cifar, train_transform("cifar10"), 64, t, epochs)});
    }
    std::printf("%-8s %8s %14s\n", "pipeline", "threads", "images/s");
    std::ostringstream js;
    js << "[";
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      std::printf("%-8s %8d %14.1f\n", r.pipeline.c_str(), r.threads, r.images_per_s);
      js << (i ? ", " : "") << "{\"pipeline\": \"" << r.pipeline << "\", \"threads\": " << r.threads
         << ", \"images_per_s\": " << r.images_per_s << "}";
    }
    js << "]\n";
    if (!json.empty()) std::ofstream(json) << js.str();
  } catch (const std::exception& e) {
    std::cerr << "dismax-bench-loader: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
