// Model: a classifier split into a backbone that produces penultimate features (B, F) and a swappable
// head that maps features to logits (a Linear layer by default; the loss heads of losses/ plug into the
// same place). The head keeps the original code's attribute name (`classifier`, or `fc` for the
// timm ResNet18), so checkpoint tensor names match PyTorch's state_dict.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "layers/module.h"

namespace dismax {

class Model : public Module {
 public:
  virtual Tensor features(const Tensor& x) = 0;  // (N, C, H, W) -> (N, F)
  Tensor forward(const Tensor& x) override;      // head(features(x))
  int64_t feature_dim() const { return feature_dim_; }
  int64_t num_classes() const { return num_classes_; }
  const std::string& arch() const { return arch_; }  // "resnet34", "densenetbc100", ...
  const std::string& head_name() const { return head_name_; }
  Module& head() const { return *head_; }
  std::shared_ptr<Module> head_ptr() const { return head_; }
  // Replaces the head (for instance by a DisMax head); it must map (B, feature_dim) to (B, classes).
  void set_head(std::shared_ptr<Module> head);
  // Parameter count without the head (SPEC §3 backbone counts).
  int64_t backbone_parameter_count() const;

 protected:
  Model(std::string arch, int64_t num_classes) : arch_(std::move(arch)), num_classes_(num_classes) {}
  // Registers a Linear(feature_dim, num_classes) head under `name`; call last in the constructor.
  void add_linear_head(const std::string& name, int64_t feature_dim, Generator& gen);

 private:
  std::string arch_, head_name_;
  int64_t num_classes_ = 0, feature_dim_ = 0;
  std::shared_ptr<Module> head_;
};

// Size knobs shared by the architectures, so tests can build narrow versions of the same code path.
struct ModelConfig {
  int64_t in_channels = 3;
  double width = 1.0;  // multiplies every channel count (rounded, at least 1)
  int64_t depth = 0;   // 0: the architecture's standard depth; else DenseNet/WRN depth
  std::vector<int64_t> blocks;  // ResNets: blocks per stage; empty = standard
};

// The limits every ModelConfig and class count must respect (far above any published configuration, low
// enough that a model built from hostile checkpoint metadata cannot exhaust memory or time); a value
// outside throws naming `what` (a flag or a file's metadata key), the value and its range.
struct ModelLimits {
  static constexpr int64_t kMaxClasses = 100000;
  static constexpr int64_t kMaxInChannels = 16;
  static constexpr double kMaxWidth = 4.0;
  static constexpr int64_t kMaxDepth = 1000;
  static constexpr int64_t kMaxStages = 8;
  static constexpr int64_t kMaxBlocksPerStage = 32;
};
// `what(key)` names the source of the key: "--width" or "run/best.safetensors: metadata 'width'".
void validate_model_config(int64_t num_classes, const ModelConfig& config,
                           const std::function<std::string(const char* key)>& what);

// Builds a model by the original code's name: "densenetbc100", "resnet34", "wideresnet2810", "resnet18"
// (ImageNet, timm), plus "resnet18cifar" and "resnet20" (16/32/64 channels, CPU-sized). Weights are
// initialised as SPEC §3 describes, drawing from `gen`.
std::shared_ptr<Model> make_model(const std::string& name, int64_t num_classes, Generator& gen,
                                  const ModelConfig& config = {});
std::vector<std::string> model_names();

}  // namespace dismax
