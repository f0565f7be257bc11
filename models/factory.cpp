#include <functional>
#include <map>

#include "models/densenet.h"
#include "models/model.h"
#include "models/resnet.h"
#include "models/wide_resnet.h"

namespace dismax {

namespace {

std::vector<int64_t> widths_of(std::vector<int64_t> base, double width) {
  for (auto& w : base) w = scaled(w, width);
  return base;
}

using Builder = std::function<std::shared_ptr<Model>(int64_t, Generator&, const ModelConfig&)>;

const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table = {
      {"resnet34",
       [](int64_t c, Generator& g, const ModelConfig& m) {
         return std::make_shared<ResNet>("resnet34", ResNet::Stem::Cifar, m.blocks.empty() ? std::vector<int64_t>{3, 4, 6, 3} : m.blocks,
                                              widths_of({64, 128, 256, 512}, m.width), c, g, m.in_channels);
       }},
      {"resnet18cifar",
       [](int64_t c, Generator& g, const ModelConfig& m) {
         return std::make_shared<ResNet>("resnet18cifar", ResNet::Stem::Cifar,
                                              m.blocks.empty() ? std::vector<int64_t>{2, 2, 2, 2} : m.blocks,
                                              widths_of({64, 128, 256, 512}, m.width), c, g, m.in_channels);
       }},
      {"resnet20",
       [](int64_t c, Generator& g, const ModelConfig& m) {
         return std::make_shared<ResNet>("resnet20", ResNet::Stem::Cifar, m.blocks.empty() ? std::vector<int64_t>{3, 3, 3} : m.blocks,
                                              widths_of({16, 32, 64}, m.width), c, g, m.in_channels);
       }},
      {"resnet18",
       [](int64_t c, Generator& g, const ModelConfig& m) {
         return std::make_shared<ResNet>("resnet18", ResNet::Stem::ImageNet,
                                                 m.blocks.empty() ? std::vector<int64_t>{2, 2, 2, 2} : m.blocks,
                                                 widths_of({64, 128, 256, 512}, m.width), c, g, m.in_channels);
       }},
      {"densenetbc100",
       [](int64_t c, Generator& g, const ModelConfig& m) {
         return std::make_shared<DenseNet>("densenetbc100", m.depth ? m.depth : 100, scaled(12, m.width), 0.5, c, g,
                                           m.in_channels);
       }},
      {"wideresnet2810",
       [](int64_t c, Generator& g, const ModelConfig& m) {
         return std::make_shared<WideResNet>("wideresnet2810", m.depth ? m.depth : 28, 10.0 * m.width, c, g,
                                             m.in_channels);
       }},
  };
  return table;
}

}  // namespace

std::shared_ptr<Model> make_model(const std::string& name, int64_t num_classes, Generator& gen,
                                  const ModelConfig& config) {
  DISMAX_CHECK(num_classes >= 1, "model ", name, ": num_classes must be >= 1, got ", num_classes);
  DISMAX_CHECK(config.width > 0 && config.in_channels >= 1, "model ", name, ": invalid width ", config.width,
               " or in_channels ", config.in_channels);
  auto it = builders().find(name);
  if (it == builders().end()) {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    DISMAX_FAIL("unknown model '", name, "' (known: ", known, ")");
  }
  return it->second(num_classes, gen, config);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [n, b] : builders()) names.push_back(n);
  return names;
}

}  // namespace dismax
