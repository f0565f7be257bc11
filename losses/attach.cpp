#include "losses/attach.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <sstream>

#include "engine/io/safetensors.h"

namespace dismax {

namespace {
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) parts.push_back(item);
  return parts;
}
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

std::string LossSpec::str() const {
  if (family != "dismax" || !fpr) return family;
  if (alpha == 1.0) return "dismax_fpr";
  std::ostringstream os;
  os << "dismax_fpr_" << alpha;
  return os.str();
}

// The accepted forms: canonical "<family>", "dismax_fpr", "dismax_fpr_<alpha>"; LIB "<family>_<addon>"
// (addon none or std; dismax also fpr); ORIG "<family>_std_std_<reg>" (reg std; dismax also noreg, fpr, 0.5,
// 0.25). Anything else is refused, so that a typo never trains plain DisMax by accident.
LossSpec parse_loss(const std::string& text) {
  const auto parts = split(text, '_');
  DISMAX_CHECK(text.empty() || (text.back() != '_' && text.find("__") == std::string::npos), "invalid loss '", text,
               "': empty part");
  const char* forms = " (accepted: softmax, isomax, isomaxplus, dismax, dismax_fpr, dismax_fpr_<alpha>, "
                      "<family>_none, <family>_std_std_std, dismax_std_std_{fpr,noreg,0.5,0.25})";
  DISMAX_CHECK(!parts.empty(), "invalid loss '", text, "'", forms);
  LossSpec spec;
  spec.family = parts[0];
  DISMAX_CHECK(spec.family == "softmax" || spec.family == "isomax" || spec.family == "isomaxplus" ||
                   spec.family == "dismax",
               "invalid loss '", text, "': the family must be softmax, isomax, isomaxplus or dismax");
  const bool dismax = spec.family == "dismax";
  auto bad = [&](const std::string& why) { DISMAX_FAIL("invalid loss '", text, "': ", why, forms); };
  if (parts.size() == 1) return spec;
  if (parts.size() == 2) {
    if (parts[1] == "none" || parts[1] == "std") return spec;
    if (dismax && parts[1] == "fpr") {
      spec.fpr = true;
      return spec;
    }
    bad("unknown part '" + parts[1] + "'");
  }
  if (parts.size() == 3) {
    if (!dismax || parts[1] != "fpr") bad("three parts are only dismax_fpr_<alpha>");
    char* end = nullptr;
    const double alpha = std::strtod(parts[2].c_str(), &end);
    if (parts[2].empty() || *end != '\0' || !std::isfinite(alpha) || alpha <= 0) bad("alpha '" + parts[2] + "' is not a positive number");
    spec.fpr = true;
    spec.alpha = alpha;
    return spec;
  }
  if (parts.size() == 4 && parts[1] == "std" && parts[2] == "std") {
    const std::string& reg = parts[3];
    if (reg == "std" || (dismax && reg == "noreg")) return spec;
    if (dismax && (reg == "fpr" || reg == "0.5" || reg == "0.25")) {
      spec.fpr = true;
      spec.alpha = reg == "fpr" ? 1.0 : std::strtod(reg.c_str(), nullptr);
      return spec;
    }
    bad("unknown regularisation '" + reg + "'");
  }
  bad("not a known loss string");
  return spec;  // not reached: bad() throws
}

std::shared_ptr<LossHead> make_head(const std::string& family, int64_t f, int64_t c, Generator& gen) {
  if (family == "softmax") return std::make_shared<SoftMaxHead>(f, c, gen);
  if (family == "isomax") return std::make_shared<IsoMaxHead>(f, c);
  if (family == "isomaxplus") return std::make_shared<IsoMaxPlusHead>(f, c, gen);
  if (family == "dismax") return std::make_shared<DisMaxHead>(f, c, gen);
  DISMAX_FAIL("unknown loss family '", family, "'");
}

std::shared_ptr<Criterion> make_criterion(const LossSpec& spec, std::shared_ptr<LossHead> head) {
  DISMAX_CHECK(head != nullptr && head->loss_name() == spec.family, "make_criterion: a ", spec.family,
               " loss needs a ", spec.family, " head");
  if (spec.family == "softmax") return std::make_shared<SoftMaxLoss>(head);
  if (spec.family == "isomax" || spec.family == "isomaxplus") return std::make_shared<IsoMaxLoss>(head, spec.numerics);
  return std::make_shared<DisMaxLoss>(head, DisMaxOptions{spec.fpr, spec.alpha, spec.numerics});
}

std::shared_ptr<Criterion> attach_loss(Model& model, const LossSpec& spec, Generator& gen) {
  auto head = make_head(spec.family, model.feature_dim(), model.num_classes(), gen);
  model.set_head(head);
  return make_criterion(spec, head);
}

Metadata model_metadata(const Model& model, const LossSpec& spec, const ModelConfig& config) {
  Metadata m{{"model", model.arch()}, {"num_classes", std::to_string(model.num_classes())}, {"loss", spec.family}};
  if (spec.family == "dismax") m["fpr"] = spec.fpr ? "true" : "false";
  if (spec.fpr) m["alpha"] = std::to_string(spec.alpha);
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

LoadedModel load_model(const std::string& path) {
  const TensorFile file = load_safetensors(path);
  const Metadata& meta = file.metadata;
  auto need = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    DISMAX_CHECK(it != meta.end(), path, ": metadata has no '", key,
                 "', needed to rebuild the model (keys: model, num_classes, loss)");
    return it->second;
  };
  LoadedModel out;
  out.metadata = meta;
  out.loss = parse_loss(need("loss"));
  if (meta.count("fpr")) out.loss.fpr = meta.at("fpr") == "true";
  if (meta.count("alpha")) out.loss.alpha = metadata_double(meta, "alpha", path);
  if (meta.count("in_channels")) out.config.in_channels = metadata_int(meta, "in_channels", path);
  if (meta.count("width")) out.config.width = metadata_double(meta, "width", path);
  if (meta.count("depth")) out.config.depth = metadata_int(meta, "depth", path);
  if (meta.count("blocks"))
    for (const auto& b : split(meta.at("blocks"), ',')) {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(b.c_str(), &end, 10);
      DISMAX_CHECK(!b.empty() && *end == '\0' && errno == 0, path, ": metadata 'blocks' = '", meta.at("blocks"),
                   "': '", b, "' is not an integer");
      out.config.blocks.push_back(v);
    }
  // Every size the metadata gives is checked before anything is built from it: against the limits of
  // the architectures, then against the tensors actually in the file (each head holds a [classes, features]
  // tensor, and the model cannot have more parameters than the file has numbers).
  const int64_t num_classes = metadata_int(meta, "num_classes", path);
  validate_model_config(num_classes, out.config,
                        [&](const char* key) { return path + ": metadata '" + std::string(key) + "'"; });
  int64_t widest = 0, numbers = 0;
  for (const auto& [n, t] : file.tensors) {
    if (t.dim() == 2) widest = std::max(widest, t.size(0));
    numbers += t.numel();
  }
  DISMAX_CHECK(num_classes <= widest, path, ": metadata 'num_classes' = ", num_classes,
               " but no tensor in the file has that many rows (largest: ", widest, ")");
  Generator gen(0);  // weights are overwritten by the checkpoint
  out.model = make_model(need("model"), num_classes, gen, out.config);
  DISMAX_CHECK(out.model->parameter_count() <= numbers, path, ": its metadata (model '", need("model"),
               "', width, depth, blocks) describes ", out.model->parameter_count(), " parameters but the file holds ",
               numbers, " numbers");
  out.criterion = attach_loss(*out.model, out.loss, gen);
  // The weights only (a resumable checkpoint also holds the optimizer's state), all finite.
  NamedTensors state = weights_of(file);
  // Optional tensors keep their defaults when a checkpoint lacks them (ORIG heads have no temperature).
  const std::string head = out.model->head_name() + ".";
  for (const char* optional : {"temperature", "validationset_available", "precomputed_thresholds"}) {
    bool present = false;
    for (const auto& [n, t] : state) present |= n == head + optional;
    if (!present)
      for (const auto& [n, t] : out.model->state_dict())
        if (n == head + optional) state.emplace_back(n, t.clone());
  }
  // Alias heads saved under another attribute name (LIB's WRN `linear`).
  bool has_head = false;
  for (const auto& [n, t] : state) has_head |= starts_with(n, head);
  if (!has_head)
    for (auto& [n, t] : state)
      for (const std::string alias : {"linear.", "classifier.", "fc."})
        if (starts_with(n, alias)) n = head + n.substr(alias.size());
  out.model->load_state_dict(state, true, path);
  const std::string bad = first_non_finite(*out.model);
  DISMAX_CHECK(bad.empty(), path, ": tensor '", bad, "' holds NaN or infinite values (a diverged run?)");
  out.model->eval();
  return out;
}

}  // namespace dismax
