#include "tools/train/train_config.h"

#include <sstream>

#include "engine/error.h"

namespace dismax {

nlohmann::json TrainConfig::to_json() const {
  return {{"dataset", dataset},
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
          {"log_every", log_every},
          {"out", out}};
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const std::string& source) {
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
    c.log_every = j.value("log_every", c.log_every);
    c.out = j.value("out", c.out);
  } catch (const nlohmann::json::exception& e) {
    DISMAX_FAIL(source, ": invalid run configuration (", e.what(), ")");
  }
  return c;
}

RecipeDefaults recipe_defaults(const std::string& dataset) {
  if (dataset == "imagenet") return {90, 256, {30, 60}};
  if (dataset == "cifar10" || dataset == "cifar100") return {300, 64, {150, 200, 250}};
  return {20, 64, {10, 15}};  // MNIST-like and folders: a short recipe, not from the paper
}

int64_t num_classes_of(const std::string& dataset) {
  if (dataset == "cifar100") return 100;
  if (dataset == "imagenet") return 1000;
  if (dataset == "cifar10" || dataset == "svhn" || dataset == "mnist" || dataset == "fashion-mnist") return 10;
  return 0;  // folders: from the data
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
