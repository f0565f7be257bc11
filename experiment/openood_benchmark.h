// OpenOOD v1.5's standard benchmarks, read from its own data layout (DATA_ROOT/benchmark_imglist/<id>/*.txt,
// images under DATA_ROOT/images_classic or images_largescale): the in-distribution training and test lists,
// and the near- and far-OOD sets (Zhang et al. 2023, "OpenOOD v1.5").
#pragma once

#include <string>
#include <vector>

namespace dismax {

struct BenchmarkList {
  std::string name;    // "cifar100", "tin", ...
  std::string group;   // "near", "far", or "" for the in-distribution lists
  std::string images;  // the image folder under the data root: "images_classic" or "images_largescale"
  std::string list;    // under the data root: "benchmark_imglist/cifar10/test_cifar100.txt"
};

struct OpenOodBenchmark {
  std::string name;     // "openood-cifar10"
  std::string dataset;  // the in-distribution dataset a checkpoint must be trained on: "cifar10"
  int64_t num_classes = 0;
  BenchmarkList train, test;
  std::vector<BenchmarkList> ood;  // near sets first, then far
};

// openood-cifar10, openood-cifar100, openood-imagenet; throws listing them.
const OpenOodBenchmark& openood_benchmark(const std::string& name);
std::vector<std::string> openood_benchmark_names();

}  // namespace dismax
