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
// What a checkpoint without metadata (a PyTorch .pth state_dict) holds, from the user: --model, --loss and
// --dataset, or the original's config string (data~cifar10+model~resnet34+loss~dismax_std_std_fpr), whose
// parts the flags override. Empty fields are unknown.
struct CheckpointDescription {
  std::string model, loss, dataset, config_string;
  double width = 0;  // channel-width multiplier; 0: as published
  // The metadata keys these give (model; num_classes and in_channels from the dataset; loss with fpr/alpha;
  // dataset; width).
  // Throws naming the flag at fault (an unknown dataset, a malformed loss or config string).
  Metadata metadata() const;
};

// Rebuilds the architecture and head named in the checkpoint's metadata (`model`, `num_classes`, `loss`,
// optional `in_channels`, `width`, `depth`, `blocks`) and loads the weights. Tensors the original code
// did not always save (`temperature`, `validationset_available`, `precomputed_thresholds`) may be absent.
// The checkpoint is ours (safetensors) or a PyTorch .pth (models/checkpoint.h: read_checkpoint_file);
// `description` fills what its metadata lacks, and must not contradict what it has.
LoadedModel load_model(const std::string& path, const CheckpointDescription& description = {});

}  // namespace dismax
