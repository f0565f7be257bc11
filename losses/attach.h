// Turning a model into an IsoMax / IsoMax+ / DisMax model in one call (the head replaces the model's last
// Linear layer, whatever its name), parsing the original code's loss strings, and rebuilding a model from
// a checkpoint's metadata alone.
#pragma once

#include <memory>
#include <string>

#include "losses/criteria.h"
#include "models/checkpoint.h"
#include "models/model.h"

namespace dismax {

struct LossSpec {
  std::string family = "softmax";  // softmax | isomax | isomaxplus | dismax
  bool fpr = false;
  double alpha = 1.0;
  Numerics numerics = Numerics::Literal;
  std::string str() const;  // canonical: "softmax", "dismax", "dismax_fpr", "dismax_fpr_0.5"
};

// Accepts the canonical names, ORIG strings ("dismax_std_std_fpr", "dismax_std_std_0.5",
// "isomaxplus_std_std_std") and LIB strings ("dismax_fpr", "softmax_none"). Throws naming the string.
LossSpec parse_loss(const std::string& text);

std::shared_ptr<LossHead> make_head(const std::string& family, int64_t num_features, int64_t num_classes, Generator& gen);
std::shared_ptr<Criterion> make_criterion(const LossSpec& spec, std::shared_ptr<LossHead> head);

// Replaces `model`'s head with the loss's first part and returns the matching criterion.
std::shared_ptr<Criterion> attach_loss(Model& model, const LossSpec& spec, Generator& gen);

// Metadata describing a model and its loss, for save_checkpoint (model, num_classes, loss, and the size
// knobs of ModelConfig when they differ from the defaults).
Metadata model_metadata(const Model& model, const LossSpec& spec, const ModelConfig& config);

struct LoadedModel {
  std::shared_ptr<Model> model;
  std::shared_ptr<Criterion> criterion;
  LossSpec loss;
  ModelConfig config;
  Metadata metadata;
};
// Rebuilds the architecture and head named in the checkpoint's metadata (`model`, `num_classes`, `loss`,
// optional `in_channels`, `width`, `depth`, `blocks`) and loads the weights. Tensors the original code
// did not always save (`temperature`, `validationset_available`, `precomputed_thresholds`) may be absent.
LoadedModel load_model(const std::string& path);

}  // namespace dismax
