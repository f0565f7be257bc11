#include "models/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "engine/grad_mode.h"
#include "engine/io/file.h"
#include "engine/io/torch_file.h"
#include "engine/ops.h"
#include "engine/version.h"

namespace dismax {

namespace {
std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

std::string first_non_finite(const NamedTensors& tensors) {
  NoGradGuard no_grad;
  // x * 0 is 0 for every finite x and NaN for NaN and +-inf: one sum per tensor says whether it is finite.
  auto probe = [](const Tensor& t) { return sum(mul(t.detach(), Tensor::scalar(0.0, TensorOptions(t.dtype()).device(t.device())))); };
  std::vector<std::pair<Device, Tensor>> totals;  // one accumulated scalar per device, read back once
  for (const auto& entry : tensors) {
    const Tensor& t = entry.second;
    if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) continue;
    Tensor p = probe(t).to(DType::Float64);
    const Device device = t.device();
    auto it = std::find_if(totals.begin(), totals.end(), [&](const auto& e) { return e.first == device; });
    if (it == totals.end()) totals.emplace_back(device, p);
    else it->second = it->second + p;
  }
  bool finite = true;
  for (const auto& [device, total] : totals) finite &= std::isfinite(total.item());
  if (finite) return "";
  for (const auto& [name, t] : tensors)
    if (t.defined() && is_floating(t.dtype()) && t.numel() > 0 && !std::isfinite(probe(t).item())) return name;
  return "(unknown)";
}

std::string first_non_finite(const Module& module) {
  NamedTensors checked;
  for (const auto& entry : module.named_parameters())
    if (entry.second.requires_grad()) checked.push_back(entry);
  for (const auto& entry : module.named_buffers()) checked.push_back(entry);
  return first_non_finite(checked);
}

namespace {
// What every checkpoint write starts from: the module's finite state, and the engine's version in the metadata.
NamedTensors writable_state(const std::string& path, const Module& module, Metadata& metadata) {
  const std::string bad = first_non_finite(module);
  DISMAX_CHECK(bad.empty(), "not writing ", path, ": parameter '", bad, "' holds NaN or infinite values");
  metadata["engine_version"] = engine_version();
  metadata["git_revision"] = git_revision();
  return module.state_dict();
}
}  // namespace

void save_checkpoint(const std::string& path, const Module& module, Metadata metadata) {
  const NamedTensors state = writable_state(path, module, metadata);
  save_safetensors(path, state, metadata);
}

NamedTensors weights_of(const TensorFile& file) {
  NamedTensors weights;
  for (const auto& entry : file.tensors)
    if (entry.first.rfind(kTrainingStatePrefix, 0) != 0) weights.push_back(entry);
  return weights;
}

void load_weights(const TensorFile& file, Module& module, const std::string& head_name, bool strict,
                  const std::vector<std::string>& may_be_absent) {
  const std::string& path = file.source;
  NamedTensors state = weights_of(file);
  auto holds = [&](const std::string& prefix) {
    for (const auto& entry : state)
      if (entry.first.rfind(prefix, 0) == 0) return true;
    return false;
  };
  const std::string head = head_name + ".";
  if (!head_name.empty() && !holds(head)) {
    // The original code named some heads otherwise (LIB's WRN: `linear`); they are read as ours.
    for (auto& entry : state)
      for (const std::string alias : {"linear.", "classifier.", "fc."})
        if (entry.first.rfind(alias, 0) == 0 && alias != head) entry.first = head + entry.first.substr(alias.size());
  }
  for (const std::string& name : may_be_absent) {
    bool present = false;
    for (const auto& entry : state) present |= entry.first == name;
    if (!present)
      for (const auto& [n, t] : module.state_dict())
        if (n == name) state.emplace_back(n, t.clone());
  }
  module.load_state_dict(state, strict, path);
  const std::string bad = first_non_finite(module);
  DISMAX_CHECK(bad.empty(), path, ": tensor '", bad, "' holds NaN or infinite values (a diverged run?)");
}

bool is_torch_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  return in.gcount() == 4 && looks_like_zip(std::string(magic, 4));
}

TensorFile read_checkpoint_file(const std::string& path) {
  const std::string bytes = read_whole_file(path, "checkpoint");
  if (!looks_like_zip(bytes)) return parse_safetensors(bytes, path);
  TensorFile file = parse_torch_file(bytes, path);
  const std::string prefix = "module.";
  const bool wrapped = !file.tensors.empty() && std::all_of(file.tensors.begin(), file.tensors.end(), [&](const auto& e) {
    return e.first.rfind(prefix, 0) == 0;
  });
  if (wrapped) {
    for (auto& entry : file.tensors) entry.first.erase(0, prefix.size());
    file.metadata["stripped_prefix"] = prefix;
  }
  return file;
}

Metadata load_checkpoint(const std::string& path, Module& module, const std::string& head_name, bool strict) {
  const TensorFile file = read_checkpoint_file(path);
  load_weights(file, module, head_name, strict);
  return file.metadata;
}

namespace {

// The optimizer's buffers and the metadata that restore a run exactly (keys without any prefix).
Metadata training_state_metadata(const SGD& optimizer, int64_t epoch, const std::vector<GeneratorSlot>& generators,
                                 Metadata extra) {
  extra["epoch"] = std::to_string(epoch);
  extra["optimizer_steps"] = std::to_string(optimizer.step_count());
  extra["lr"] = exact(optimizer.lr());
  for (const auto& g : generators) {
    extra["rng." + g.name + ".seed"] = std::to_string(g.generator->seed());
    extra["rng." + g.name + ".offset"] = std::to_string(g.generator->offset());
  }
  extra["engine_version"] = engine_version();
  return extra;
}

void apply_training_state(const NamedTensors& tensors, const Metadata& metadata, SGD& optimizer,
                          const std::vector<GeneratorSlot>& generators, const std::string& path) {
  optimizer.load_state(tensors, metadata_int(metadata, "optimizer_steps", path), path);
  for (const auto& g : generators) {
    const auto seed = static_cast<uint64_t>(metadata_int(metadata, "rng." + g.name + ".seed", path));
    const auto offset = static_cast<uint64_t>(metadata_int(metadata, "rng." + g.name + ".offset", path));
    g.generator->set_state(seed, offset);
  }
}

}  // namespace

void save_training_state(const std::string& path, const SGD& optimizer, int64_t epoch,
                         const std::vector<GeneratorSlot>& generators, Metadata extra) {
  save_safetensors(path, optimizer.state(), training_state_metadata(optimizer, epoch, generators, std::move(extra)));
}

Metadata load_training_state(const std::string& path, SGD& optimizer, const std::vector<GeneratorSlot>& generators) {
  const TensorFile file = load_safetensors(path);
  apply_training_state(file.tensors, file.metadata, optimizer, generators, path);
  return file.metadata;
}

void save_resumable_checkpoint(const std::string& path, const Module& module, Metadata metadata, const SGD& optimizer,
                               int64_t epoch, const std::vector<GeneratorSlot>& generators, Metadata extra) {
  for (const auto& [key, value] : training_state_metadata(optimizer, epoch, generators, std::move(extra)))
    metadata[kTrainingStatePrefix + key] = value;
  NamedTensors tensors = writable_state(path, module, metadata);
  for (const auto& [name, t] : optimizer.state()) tensors.emplace_back(kTrainingStatePrefix + name, t);
  save_safetensors(path, tensors, metadata);
}

bool is_resumable_checkpoint(const Metadata& metadata) {
  return metadata.count(std::string(kTrainingStatePrefix) + "optimizer_steps") != 0;
}

Metadata load_resumable_checkpoint(const std::string& path, Module& module, SGD& optimizer,
                                   const std::vector<GeneratorSlot>& generators) {
  const TensorFile file = load_safetensors(path);  // read once: the weights and the state
  const Metadata& all = file.metadata;
  DISMAX_CHECK(is_resumable_checkpoint(all), path, ": not a resumable checkpoint (no training state in it)");
  load_weights(file, module, "", true);
  NamedTensors tensors;
  const std::string prefix = kTrainingStatePrefix;
  for (const auto& [name, t] : file.tensors)
    if (name.rfind(prefix, 0) == 0) tensors.emplace_back(name.substr(prefix.size()), t);
  Metadata state;
  for (const auto& [key, value] : all)
    if (key.rfind(prefix, 0) == 0) state[key.substr(prefix.size())] = value;
  apply_training_state(tensors, state, optimizer, generators, path);
  return state;
}

int64_t metadata_int(const Metadata& metadata, const std::string& key, const std::string& source) {
  auto it = metadata.find(key);
  DISMAX_CHECK(it != metadata.end(), source, ": metadata has no '", key, "'");
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (errno == ERANGE || end == it->second.c_str() || *end != '\0') {
    // generator seeds are unsigned 64-bit
    errno = 0;
    const unsigned long long u = std::strtoull(it->second.c_str(), &end, 10);
    DISMAX_CHECK(errno == 0 && end != it->second.c_str() && *end == '\0', source, ": metadata '", key, "' = '",
                 it->second, "' is not an integer");
    return static_cast<int64_t>(u);
  }
  return v;
}

double metadata_double(const Metadata& metadata, const std::string& key, const std::string& source) {
  auto it = metadata.find(key);
  DISMAX_CHECK(it != metadata.end(), source, ": metadata has no '", key, "'");
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  DISMAX_CHECK(end != it->second.c_str() && *end == '\0', source, ": metadata '", key, "' = '", it->second,
               "' is not a number");
  return v;
}

}  // namespace dismax
