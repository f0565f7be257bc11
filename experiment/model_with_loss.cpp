#include "experiment/model_with_loss.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "datasets/registry.h"
#include "engine/io/safetensors.h"
#include "experiment/train_config.h"

namespace dismax {

std::shared_ptr<Criterion> attach_loss(Model& model, const LossSpec& spec, Generator& gen) {
  auto head = make_head(spec.family, model.feature_dim(), model.num_classes(), gen);
  model.set_head(head);
  return make_criterion(spec, head);
}

Metadata model_metadata(const Model& model, const LossSpec& spec, const ModelConfig& config) {
  Metadata m{{"model", model.arch()}, {"num_classes", std::to_string(model.num_classes())}, {"loss", spec.family}};
  if (spec.family == "dismax") m["fpr"] = spec.fpr ? "true" : "false";
  if (spec.fpr) m["alpha"] = std::to_string(spec.alpha);
  if (spec.family == "logitnorm") {
    std::ostringstream os;
    os.precision(17);
    os << spec.logitnorm_t;
    m["logitnorm_t"] = os.str();
  }
  if (config.in_channels != 3) m["in_channels"] = std::to_string(config.in_channels);
  if (config.width != 1.0) {
    std::ostringstream os;
    os.precision(17);
    os << config.width;
    m["width"] = os.str();
  }
  if (config.depth != 0) m["depth"] = std::to_string(config.depth);
  if (!config.blocks.empty()) {
    std::string b;
    for (int64_t v : config.blocks) b += (b.empty() ? "" : ",") + std::to_string(v);
    m["blocks"] = b;
  }
  return m;
}

Metadata CheckpointDescription::metadata() const {
  TrainConfig parts;
  parts.model = parts.loss = parts.dataset = "";
  if (!config_string.empty()) apply_config_string(parts, config_string);
  if (!model.empty()) parts.model = model;
  if (!loss.empty()) parts.loss = loss;
  if (!dataset.empty()) parts.dataset = dataset;
  Metadata m;
  if (!parts.model.empty()) m["model"] = parts.model;
  if (width != 0) {
    DISMAX_CHECK(std::isfinite(width) && width > 0, "--width must be > 0, got ", width);
    std::ostringstream os;
    os.precision(17);
    os << width;
    m["width"] = os.str();
  }
  if (!parts.dataset.empty()) {
    const DatasetInfo& info = dataset_info(parts.dataset);
    m["dataset"] = info.name;
    if (info.num_classes > 0) m["num_classes"] = std::to_string(info.num_classes);
    if (info.channels != 3) m["in_channels"] = std::to_string(info.channels);
  }
  if (!parts.loss.empty()) {
    const LossSpec spec = parse_loss(parts.loss);
    m["loss"] = spec.family;
    if (spec.family == "dismax") m["fpr"] = spec.fpr ? "true" : "false";
    if (spec.fpr) m["alpha"] = std::to_string(spec.alpha);
    if (spec.family == "logitnorm") m["logitnorm_t"] = std::to_string(spec.logitnorm_t);
  }
  return m;
}

LoadedModel load_model(const std::string& path, const CheckpointDescription& description) {
  TensorFile file = read_checkpoint_file(path);
  const bool from_torch = is_torch_checkpoint(path);
  for (const auto& [key, value] : description.metadata()) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      file.metadata[key] = value;
    else
      DISMAX_CHECK(key == "dataset" || it->second == value, path, ": its metadata says ", key, " '", it->second,
                   "' but the flags say '", value, "'");
  }
  const Metadata& meta = file.metadata;
  auto need = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end() && from_torch)
      DISMAX_FAIL(path, ": a PyTorch checkpoint carries no description of its model (no '", key, "'): pass --model, "
                  "--loss and --dataset, or --config data~cifar10+model~resnet34+loss~dismax_std_std_fpr");
    DISMAX_CHECK(it != meta.end(), path, ": metadata has no '", key,
                 "', needed to rebuild the model (keys: model, num_classes, loss)");
    return it->second;
  };
  LoadedModel out;
  out.metadata = meta;
  out.loss = parse_loss(need("loss"));
  if (meta.count("fpr")) out.loss.fpr = meta.at("fpr") == "true";
  if (meta.count("alpha")) out.loss.alpha = metadata_double(meta, "alpha", path);
  if (meta.count("logitnorm_t")) out.loss.logitnorm_t = metadata_double(meta, "logitnorm_t", path);
  if (meta.count("in_channels")) out.config.in_channels = metadata_int(meta, "in_channels", path);
  if (meta.count("width")) out.config.width = metadata_double(meta, "width", path);
  if (meta.count("depth")) out.config.depth = metadata_int(meta, "depth", path);
  if (meta.count("blocks")) {
    std::stringstream blocks(meta.at("blocks"));
    for (std::string b; std::getline(blocks, b, ',');) {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(b.c_str(), &end, 10);
      DISMAX_CHECK(!b.empty() && *end == '\0' && errno == 0, path, ": metadata 'blocks' = '", meta.at("blocks"),
                   "': '", b, "' is not an integer");
      out.config.blocks.push_back(v);
    }
  }
  // Every size the metadata gives is checked before anything is built from it: against the limits of
  // the architectures, then against the tensors actually in the file (each head holds a [classes, features]
  // tensor, and the model cannot have more parameters than the file has numbers). A .pth's sizes come from
  // the user's flags, not from the file: a mismatch there is listed tensor by tensor when loading instead.
  const int64_t num_classes = metadata_int(meta, "num_classes", path);
  validate_model_config(num_classes, out.config,
                        [&](const char* key) { return path + ": metadata '" + std::string(key) + "'"; });
  int64_t widest = 0, numbers = 0;
  for (const auto& [n, t] : file.tensors) {
    if (t.dim() == 2) widest = std::max(widest, t.size(0));
    numbers += t.numel();
  }
  DISMAX_CHECK(from_torch || num_classes <= widest, path, ": metadata 'num_classes' = ", num_classes,
               " but no tensor in the file has that many rows (largest: ", widest, ")");
  Generator gen(0);  // weights are overwritten by the checkpoint
  out.model = make_model(need("model"), num_classes, gen, out.config);
  DISMAX_CHECK(from_torch || out.model->parameter_count() <= numbers, path, ": its metadata (model '", need("model"),
               "', width, depth, blocks) describes ", out.model->parameter_count(), " parameters but the file holds ",
               numbers, " numbers");
  out.criterion = attach_loss(*out.model, out.loss, gen);
  // The weights only (a resumable checkpoint also holds the optimizer's state), all finite; tensors the
  // original code did not always save keep their defaults.
  const std::string head = out.model->head_name() + ".";
  load_weights(file, *out.model, out.model->head_name(), true,
               {head + "temperature", head + "validationset_available", head + "precomputed_thresholds"});
  out.model->eval();
  return out;
}

}  // namespace dismax
