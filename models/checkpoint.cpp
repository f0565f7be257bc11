#include "models/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "engine/version.h"

namespace dismax {

namespace {
std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

void save_checkpoint(const std::string& path, const Module& module, Metadata metadata) {
  metadata["engine_version"] = engine_version();
  metadata["git_revision"] = git_revision();
  save_safetensors(path, module.state_dict(), metadata);
}

Metadata load_checkpoint(const std::string& path, Module& module, const std::string& head_name, bool strict) {
  const TensorFile file = load_safetensors(path);
  NamedTensors state = file.tensors;
  if (!head_name.empty()) {
    // The original library renamed some heads (WRN: `linear`); map them onto ours.
    bool has_head = false;
    for (const auto& [n, t] : state) has_head |= n.rfind(head_name + ".", 0) == 0;
    if (!has_head)
      for (auto& [n, t] : state)
        for (const char* alias : {"linear.", "classifier.", "fc."})
          if (n.rfind(alias, 0) == 0 && head_name + "." != alias) n = head_name + "." + n.substr(std::string(alias).size());
  }
  module.load_state_dict(state, strict, path);
  return file.metadata;
}

void save_training_state(const std::string& path, const SGD& optimizer, int64_t epoch,
                         const std::vector<GeneratorSlot>& generators, Metadata extra) {
  extra["epoch"] = std::to_string(epoch);
  extra["optimizer_steps"] = std::to_string(optimizer.step_count());
  extra["lr"] = exact(optimizer.lr());
  for (const auto& g : generators) {
    extra["rng." + g.name + ".seed"] = std::to_string(g.generator->seed());
    extra["rng." + g.name + ".offset"] = std::to_string(g.generator->offset());
  }
  extra["engine_version"] = engine_version();
  save_safetensors(path, optimizer.state(), extra);
}

Metadata load_training_state(const std::string& path, SGD& optimizer, const std::vector<GeneratorSlot>& generators) {
  const TensorFile file = load_safetensors(path);
  optimizer.load_state(file.tensors, metadata_int(file.metadata, "optimizer_steps", path), path);
  for (const auto& g : generators) {
    const auto seed = static_cast<uint64_t>(metadata_int(file.metadata, "rng." + g.name + ".seed", path));
    const auto offset = static_cast<uint64_t>(metadata_int(file.metadata, "rng." + g.name + ".offset", path));
    g.generator->set_state(seed, offset);
  }
  return file.metadata;
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
