#include <cmath>
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

void validate_model_config(int64_t num_classes, const ModelConfig& config,
                           const std::function<std::string(const char* key)>& what) {
  using L = ModelLimits;
  DISMAX_CHECK(num_classes >= 1 && num_classes <= L::kMaxClasses, what("num_classes"), " = ", num_classes,
               " is outside [1, ", L::kMaxClasses, "]");
  DISMAX_CHECK(config.in_channels >= 1 && config.in_channels <= L::kMaxInChannels, what("in_channels"), " = ",
               config.in_channels, " is outside [1, ", L::kMaxInChannels, "]");
  DISMAX_CHECK(std::isfinite(config.width) && config.width > 0 && config.width <= L::kMaxWidth, what("width"), " = ",
               config.width, " is outside (0, ", L::kMaxWidth, "]");
  DISMAX_CHECK(config.depth >= 0 && config.depth <= L::kMaxDepth, what("depth"), " = ", config.depth,
               " is outside [0, ", L::kMaxDepth, "] (0 = the architecture's own)");
  DISMAX_CHECK(static_cast<int64_t>(config.blocks.size()) <= L::kMaxStages, what("blocks"), " has ",
               config.blocks.size(), " stages, more than ", L::kMaxStages);
  for (int64_t b : config.blocks)
    DISMAX_CHECK(b >= 1 && b <= L::kMaxBlocksPerStage, what("blocks"), ": ", b, " blocks in a stage is outside [1, ",
                 L::kMaxBlocksPerStage, "]");
}

std::shared_ptr<Model> make_model(const std::string& name, int64_t num_classes, Generator& gen,
                                  const ModelConfig& config) {
  validate_model_config(num_classes, config, [&](const char* key) { return "model " + name + ": " + key; });
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
