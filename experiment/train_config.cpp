#include "experiment/train_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace dismax {

const Recipe& training_recipe(const std::string& dataset) {
  const auto& trainable = training_dataset_names();
  if (std::find(trainable.begin(), trainable.end(), dataset) == trainable.end()) {
    std::string known;
    for (const auto& n : trainable) known += (known.empty() ? "" : ", ") + n;
    DISMAX_FAIL("--dataset '", dataset, "' has no training recipe (train on: ", known,
                "; other sets are for dismax-eval)");
  }
  return *dataset_info(dataset).recipe;
}

std::shared_ptr<const Dataset> with_config_classes(std::shared_ptr<const Dataset> data, const TrainConfig& config) {
  if (config.classes.empty()) return data;
  return std::make_shared<ClassSubsetDataset>(std::move(data), config.classes);
}

void TrainConfig::validate() const {
  training_recipe(dataset);
  auto finite = [](double v) { return std::isfinite(v); };
  DISMAX_CHECK(epochs >= 1 && epochs <= 1000000, "--epochs must be in [1, 1000000], got ", epochs);
  DISMAX_CHECK(batch_size >= 1 && batch_size <= 1000000, "--batch-size must be in [1, 1000000], got ", batch_size);
  DISMAX_CHECK(finite(lr) && lr > 0, "--lr must be a positive number, got ", lr);
  DISMAX_CHECK(finite(momentum) && momentum >= 0 && momentum < 1, "--momentum must be in [0, 1), got ", momentum);
  DISMAX_CHECK(finite(weight_decay) && weight_decay >= 0, "--weight-decay must be >= 0, got ", weight_decay);
  DISMAX_CHECK(finite(gamma) && gamma > 0 && gamma <= 1, "--gamma must be in (0, 1] (a decay), got ", gamma);
  DISMAX_CHECK(schedule == "multistep" || schedule == "cosine" || schedule == "cosine-iter",
               "--schedule must be multistep, cosine or cosine-iter, got '", schedule, "'");
  DISMAX_CHECK(finite(min_lr) && min_lr >= 0 && min_lr <= lr, "--min-lr must be in [0, --lr], got ", min_lr);
  DISMAX_CHECK(finite(warmup_epochs) && warmup_epochs >= 0 && warmup_epochs < static_cast<double>(epochs),
               "--warmup-epochs must be in [0, --epochs), got ", warmup_epochs);
  DISMAX_CHECK(finite(label_smoothing) && label_smoothing >= 0 && label_smoothing < 1,
               "--label-smoothing must be in [0, 1), got ", label_smoothing);
  augment.validate(dataset);
  DISMAX_CHECK(numerics == "literal" || numerics == "fused", "--numerics must be literal or fused, got '", numerics,
               "'");
  for (size_t i = 0; i < milestones.size(); ++i)
    DISMAX_CHECK(milestones[i] >= 1 && (i == 0 || milestones[i] > milestones[i - 1]),
                 "--milestones must be increasing epochs >= 1, got ", milestones[i], " at position ", i + 1);
  DISMAX_CHECK(finite(validation_split) && validation_split >= 0 &&
                   (validation_split < 1 || validation_split == std::floor(validation_split)),
               "--validation-split must be 0, a fraction in (0, 1) or a whole number of examples, got ",
               validation_split);
  DISMAX_CHECK(threads >= 0, "--threads must be >= 0 (0 = all cores), got ", threads);
  DISMAX_CHECK(workers >= 0, "--workers must be >= 0, got ", workers);
  DISMAX_CHECK(max_train_batches >= 0, "--max-batches must be >= 0 (0 = all), got ", max_train_batches);
  DISMAX_CHECK(train_subset >= 0, "--train-subset must be >= 0 (0 = all), got ", train_subset);
  for (size_t i = 0; i < classes.size(); ++i)
    DISMAX_CHECK(classes[i] >= 0 && std::count(classes.begin(), classes.end(), classes[i]) == 1,
                 "--classes must be distinct class indices >= 0, got ", classes[i], " at position ", i + 1);
  DISMAX_CHECK(classes.size() != 1, "--classes needs at least two classes");
  DISMAX_CHECK(log_every >= 0, "--log-every must be >= 0, got ", log_every);
  DISMAX_CHECK(!out.empty(), "--out must name a folder");
  DISMAX_CHECK(!data_dir.empty(), "--data-dir must name a folder");
}

std::string TrainConfig::json(int indent) const {
  const nlohmann::json j = {{"dataset", dataset},
          {"data_dir", data_dir},
          {"model", model},
          {"loss", loss},
          {"numerics", numerics},
          {"width", width},
          {"depth", depth},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"momentum", momentum},
          {"weight_decay", weight_decay},
          {"nesterov", nesterov},
          {"schedule", schedule},
          {"milestones", milestones},
          {"gamma", gamma},
          {"min_lr", min_lr},
          {"warmup_epochs", warmup_epochs},
          {"label_smoothing", label_smoothing},
          {"no_decay_bn_bias", no_decay_bn_bias},
          {"augment", {{"preset", augment.preset},
                       {"crop_padding", augment.crop_padding},
                       {"flip", augment.flip},
                       {"rrc_scale", augment.rrc_scale},
                       {"color_jitter", augment.color_jitter},
                       {"trivial_augment", augment.trivial_augment},
                       {"random_erasing", augment.random_erasing},
                       {"cutout", augment.cutout}}},
          {"recipe", recipe},
          {"seed", seed},
          {"device", device},
          {"threads", threads},
          {"workers", workers},
          {"validation_split", validation_split},
          {"max_train_batches", max_train_batches},
          {"train_subset", train_subset},
          {"classes", classes},
          {"log_every", log_every},
          {"out", out},
          {"init_from", init_from}};
  return j.dump(indent);
}

TrainConfig TrainConfig::parse(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    DISMAX_FAIL(source, ": not valid JSON (", e.what(), ")");
  }
  TrainConfig c;
  try {
    c.dataset = j.at("dataset").get<std::string>();
    c.data_dir = j.at("data_dir").get<std::string>();
    c.model = j.at("model").get<std::string>();
    c.loss = j.at("loss").get<std::string>();
    c.numerics = j.value("numerics", c.numerics);
    c.width = j.value("width", c.width);
    c.depth = j.value("depth", c.depth);
    c.epochs = j.at("epochs").get<int64_t>();
    c.batch_size = j.at("batch_size").get<int64_t>();
    c.lr = j.at("lr").get<double>();
    c.momentum = j.at("momentum").get<double>();
    c.weight_decay = j.at("weight_decay").get<double>();
    c.nesterov = j.value("nesterov", c.nesterov);
    c.schedule = j.value("schedule", c.schedule);
    c.milestones = j.at("milestones").get<std::vector<int64_t>>();
    c.gamma = j.at("gamma").get<double>();
    c.min_lr = j.value("min_lr", c.min_lr);
    c.warmup_epochs = j.value("warmup_epochs", c.warmup_epochs);
    c.label_smoothing = j.value("label_smoothing", c.label_smoothing);
    c.no_decay_bn_bias = j.value("no_decay_bn_bias", c.no_decay_bn_bias);
    c.recipe = j.value("recipe", c.recipe);
    if (j.contains("augment")) {
      const nlohmann::json& a = j.at("augment");
      c.augment.preset = a.value("preset", c.augment.preset);
      c.augment.crop_padding = a.value("crop_padding", c.augment.crop_padding);
      c.augment.flip = a.value("flip", c.augment.flip);
      c.augment.rrc_scale = a.value("rrc_scale", c.augment.rrc_scale);
      c.augment.color_jitter = a.value("color_jitter", c.augment.color_jitter);
      c.augment.trivial_augment = a.value("trivial_augment", c.augment.trivial_augment);
      c.augment.random_erasing = a.value("random_erasing", c.augment.random_erasing);
      c.augment.cutout = a.value("cutout", c.augment.cutout);
    }
    c.seed = j.at("seed").get<uint64_t>();
    c.device = j.value("device", c.device);
    c.threads = j.value("threads", c.threads);
    c.workers = j.value("workers", c.workers);
    c.validation_split = j.value("validation_split", c.validation_split);
    c.max_train_batches = j.value("max_train_batches", c.max_train_batches);
    c.train_subset = j.value("train_subset", c.train_subset);
    c.classes = j.value("classes", c.classes);
    c.log_every = j.value("log_every", c.log_every);
    c.out = j.value("out", c.out);
    c.init_from = j.value("init_from", c.init_from);
  } catch (const nlohmann::json::exception& e) {
    DISMAX_FAIL(source, ": invalid run configuration (", e.what(), ")");
  }
  return c;
}

const std::vector<std::string>& recipe_preset_names() {
  static const std::vector<std::string> names = {"openood-v1.5"};
  return names;
}

void apply_recipe_preset(TrainConfig& config, const std::string& name) {
  DISMAX_CHECK(name == "openood-v1.5", "--recipe must be openood-v1.5, got '", name, "'");
  DISMAX_CHECK(config.dataset == "cifar10" || config.dataset == "cifar100", "--recipe openood-v1.5 is OpenOOD's "
               "CIFAR recipe; --dataset is ", config.dataset);
  config.recipe = name;
  config.epochs = 100;
  config.batch_size = 128;
  config.lr = 0.1;
  config.momentum = 0.9;
  config.nesterov = true;
  config.weight_decay = 5e-4;
  config.schedule = "cosine-iter";
  config.min_lr = 1e-6;
  config.augment = AugmentRecipe{};
  config.augment.preset = "openood-cifar";
}

void apply_config_string(TrainConfig& config, const std::string& text) {
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, '+')) {
    const auto tilde = part.find('~');
    DISMAX_CHECK(tilde != std::string::npos, "--config '", text, "': '", part, "' is not key~value");
    const std::string key = part.substr(0, tilde), value = part.substr(tilde + 1);
    if (key == "data") config.dataset = value == "imagenet1k" ? "imagenet" : value;
    else if (key == "model") config.model = value;
    else if (key == "loss") config.loss = value;
    else DISMAX_FAIL("--config '", text, "': unknown key '", key, "' (data, model, loss)");
  }
}

}  // namespace dismax
