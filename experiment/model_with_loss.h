// A model and its loss, composed: the loss's head put in place of the model's last Linear layer (whatever
// its name), the checkpoint metadata that describes both, and both rebuilt from a checkpoint alone.
#pragma once

#include <memory>
#include <string>

#include "losses/loss_spec.h"
#include "models/checkpoint.h"
#include "models/model.h"

namespace dismax {

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
