#include "experiment/openood_benchmark.h"

#include "engine/error.h"

namespace dismax {

namespace {

BenchmarkList classic(const std::string& id, const std::string& name, const std::string& group,
                      const std::string& split = "test") {
  return {name, group, "images_classic", "benchmark_imglist/" + id + "/" + split + "_" + name + ".txt"};
}
BenchmarkList largescale(const std::string& name, const std::string& group, const std::string& split = "test") {
  return {name, group, "images_largescale", "benchmark_imglist/imagenet/" + split + "_" + name + ".txt"};
}

OpenOodBenchmark cifar(const std::string& id, const std::string& other, int64_t classes) {
  return {"openood-" + id,
          id,
          classes,
          classic(id, id, "", "train"),
          classic(id, id, ""),
          {classic(id, other, "near"), classic(id, "tin", "near"), classic(id, "mnist", "far"),
           classic(id, "svhn", "far"), classic(id, "texture", "far"), classic(id, "places365", "far")}};
}

const std::vector<OpenOodBenchmark>& benchmarks() {
  static const std::vector<OpenOodBenchmark> all = {
      cifar("cifar10", "cifar100", 10),
      cifar("cifar100", "cifar10", 100),
      {"openood-imagenet",
       "imagenet",
       1000,
       largescale("imagenet", "", "train"),
       largescale("imagenet", ""),
       {largescale("ssb_hard", "near"), largescale("ninco", "near"), largescale("inaturalist", "far"),
        {"textures", "far", "images_classic", "benchmark_imglist/imagenet/test_textures.txt"},
        largescale("openimage_o", "far")}},
  };
  return all;
}

}  // namespace

std::vector<std::string> openood_benchmark_names() {
  std::vector<std::string> names;
  for (const auto& b : benchmarks()) names.push_back(b.name);
  return names;
}

const OpenOodBenchmark& openood_benchmark(const std::string& name) {
  for (const auto& b : benchmarks())
    if (b.name == name) return b;
  std::string known;
  for (const auto& n : openood_benchmark_names()) known += (known.empty() ? "" : ", ") + n;
  DISMAX_FAIL("--benchmark '", name, "' is not one of ", known);
}

}  // namespace dismax
