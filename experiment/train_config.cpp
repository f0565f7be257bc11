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
  DISMAX_CHECK(schedule == "multistep" || schedule == "cosine", "--schedule must be multistep or cosine, got '",
               schedule, "'");
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
