// The resolved configuration of a training run: every flag of dismax-train after defaults, the dataset's
// recipe (SPEC §5) and an original config string have been applied. Saved as config.json beside the
// checkpoints and in their metadata, read back by --resume and dismax-eval.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/augment.h"
#include "datasets/registry.h"

namespace dismax {

struct TrainConfig {
  std::string dataset = "cifar10";
  std::string data_dir = "data";
  std::string model = "resnet34";
  std::string loss = "softmax";  // canonical loss string (parse_loss)
  std::string numerics = "literal";
  double width = 1.0;
  int64_t depth = 0;
  int64_t epochs = 300;
  int64_t batch_size = 64;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  bool nesterov = true;
  std::string schedule = "multistep";  // multistep | cosine (per epoch) | cosine-iter (per iteration)
  std::vector<int64_t> milestones = {150, 200, 250};
  double gamma = 0.1;
  double min_lr = 0;         // the cosine schedules' floor (eta_min)
  double warmup_epochs = 0;  // linear warm-up, per iteration, before the schedule (fractions allowed)
  double label_smoothing = 0;  // softmax loss only
  bool no_decay_bn_bias = false;  // timm's no-decay group: no weight decay on 1-D parameters and biases
  AugmentRecipe augment;
  std::string recipe;  // the preset the run started from ("openood-v1.5"), for the record
  uint64_t seed = 42;
  std::string device = "cpu";
  int threads = 0;   // 0: all cores
  int workers = 2;   // loader threads
  double validation_split = 0;  // 0: select on the test split as the paper did; (0,1) fraction or a count
  int64_t max_train_batches = 0;  // 0: all (a cap for smoke runs)
  int64_t train_subset = 0;       // 0: whole training set; N: the first N examples of a fixed shuffle
  std::vector<int64_t> classes;   // empty: all; else train and validate on these classes only (relabelled by rank)
  int64_t log_every = 0;          // batches between plain log lines when not on a terminal (0: about 10 per epoch)
  std::string out = "runs/run";
  std::string init_from;  // "": random initialisation; else a checkpoint (ours or a PyTorch .pth) whose weights start the run

  // Every value in range, or an error naming its flag: positive epochs, batch and lr, momentum in [0, 1),
  // gamma in (0, 1], a validation split that is 0, a fraction in (0, 1) or a whole count, non-negative
  // counts, increasing milestones, a known schedule and numerics.
  void validate() const;

  // The configuration as JSON text (config.json, the checkpoints' 'config' metadata); indent < 0: one line.
  std::string json(int indent = -1) const;
  // Reads json()'s text; throws "<source>: not valid JSON (...)" / "<source>: invalid run configuration (...)".
  static TrainConfig parse(const std::string& text, const std::string& source);
};

// `data` restricted to `config.classes` (itself when that is empty).
std::shared_ptr<const Dataset> with_config_classes(std::shared_ptr<const Dataset> data, const TrainConfig& config);

// The dataset's SPEC §5 recipe (epochs, batch size, milestones), for the flags the user did not set. Throws
// naming --dataset when the dataset is for evaluation only.
const Recipe& training_recipe(const std::string& dataset);

// Training presets (--recipe): "openood-v1.5" is OpenOOD v1.5's CIFAR trainer (SGD lr 0.1, momentum 0.9,
// Nesterov, weight decay 5e-4, 100 epochs of batch 128, cosine per iteration down to 1e-6, flip then
// RandomCrop(32, padding 4)). Sets those fields of `config`; throws naming --recipe for an unknown name or
// a dataset the preset is not for.
void apply_recipe_preset(TrainConfig& config, const std::string& name);
const std::vector<std::string>& recipe_preset_names();

// Applies an original config string "data~cifar10+model~resnet34+loss~dismax_std_std_fpr" (imagenet1k is
// read as imagenet). Throws naming the string and the bad part.
void apply_config_string(TrainConfig& config, const std::string& text);

}  // namespace dismax
