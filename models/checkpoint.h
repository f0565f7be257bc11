// Checkpoints in safetensors with the PyTorch state_dict names of the same architecture, plus metadata
// (SPEC keys: model, num_classes, loss, dataset, temperature, epoch, seed, engine_version, git_revision,
// config). The training state needed to resume exactly (optimizer buffers and step, epoch, generator
// states) goes in a second file beside it. All writes are atomic.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/io/safetensors.h"
#include "layers/module.h"
#include "layers/sgd.h"

namespace dismax {

using Metadata = std::map<std::string, std::string>;

// Writes module.state_dict() and `metadata` (engine_version and git_revision are added).
void save_checkpoint(const std::string& path, const Module& module, Metadata metadata);

// Loads `path` into `module`: names and shapes must match (strict: nothing missing, nothing extra).
// A head saved under another attribute name by the original code (`linear.` for LIB's WRN) is accepted
// for `head_name`. Errors name the file and the tensor. Returns the file's metadata.
Metadata load_checkpoint(const std::string& path, Module& module, const std::string& head_name = "",
                         bool strict = true);

struct GeneratorSlot {
  std::string name;
  Generator* generator;
};

// Resumable state: optimizer momentum buffers and step count, the epoch and batch position, and the
// state of every generator listed. `extra` holds anything else the caller wants back (strings).
void save_training_state(const std::string& path, const SGD& optimizer, int64_t epoch,
                         const std::vector<GeneratorSlot>& generators, Metadata extra = {});
// Restores what save_training_state wrote; returns the metadata (epoch under "epoch").
Metadata load_training_state(const std::string& path, SGD& optimizer, const std::vector<GeneratorSlot>& generators);

// Reads an integer / float metadata entry; throws naming the file and key when absent or malformed.
int64_t metadata_int(const Metadata& metadata, const std::string& key, const std::string& source);
double metadata_double(const Metadata& metadata, const std::string& key, const std::string& source);

}  // namespace dismax
