// Checkpoints in safetensors with the PyTorch state_dict names of the same architecture, plus metadata
// (SPEC keys: model, num_classes, loss, dataset, temperature, epoch, seed, engine_version, git_revision,
// config). The training state needed to resume exactly (optimizer buffers and step, epoch, generator
// states) goes in the same file under a prefix (or, from older runs, a second file beside it). All writes
// are atomic.
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

// Writes module.state_dict() and `metadata` (engine_version and git_revision are added). Refuses (throws,
// writing nothing) when a parameter or buffer is not finite, naming it: a checkpoint on disk is always usable.
void save_checkpoint(const std::string& path, const Module& module, Metadata metadata);

// The tensors and metadata of a checkpoint file, whatever its format (decided by its content): our
// safetensors, or a PyTorch torch.save state_dict (.pth; engine/io/torch_file.h), which carries no metadata.
// A DataParallel `module.` prefix on every tensor name is removed.
TensorFile read_checkpoint_file(const std::string& path);
// Whether `path` is a torch.save file (a zip archive) rather than our safetensors.
bool is_torch_checkpoint(const std::string& path);

// Loads `path` into `module`: names and shapes must match (strict: nothing missing, nothing extra).
// A head saved under another attribute name by the original code (`linear.` for LIB's WRN) is accepted
// for `head_name`. Errors name the file and the tensor; a tensor with NaN or infinite values is refused too.
// Tensors under "training_state." (a resumable checkpoint's optimizer state) are not the module's and are
// left out. Returns the file's metadata.
Metadata load_checkpoint(const std::string& path, Module& module, const std::string& head_name = "",
                         bool strict = true);

// load_checkpoint on a file already read. Module tensors named in `may_be_absent` keep their current values
// when the file lacks them (heads saved by the original code have no `temperature`). With `strict`, every
// missing, unexpected and mis-shaped tensor is listed by name and shape in one error, and nothing is loaded.
void load_weights(const TensorFile& file, Module& module, const std::string& head_name = "", bool strict = true,
                  const std::vector<std::string>& may_be_absent = {});

// Names of the training state's tensors and metadata keys inside a resumable checkpoint.
inline constexpr const char* kTrainingStatePrefix = "training_state.";

// The module weights of a checkpoint file: everything but the training state.
NamedTensors weights_of(const TensorFile& file);

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

// A resumable checkpoint is one file: the module's weights and metadata, plus the training state under
// kTrainingStatePrefix (tensors and metadata keys). Written atomically like every checkpoint, so the weights
// and the state can never come from two different moments; it evaluates like any other checkpoint.
void save_resumable_checkpoint(const std::string& path, const Module& module, Metadata metadata, const SGD& optimizer,
                               int64_t epoch, const std::vector<GeneratorSlot>& generators, Metadata extra = {});
bool is_resumable_checkpoint(const Metadata& metadata);
// Loads the weights into `module` and the state into `optimizer` and the generators; returns the training
// state's metadata with the prefix removed (epoch, batch, and the caller's extra keys).
Metadata load_resumable_checkpoint(const std::string& path, Module& module, SGD& optimizer,
                                   const std::vector<GeneratorSlot>& generators);

// The name of the first floating tensor that holds a NaN or an infinity, or "" when all are finite. One
// device reduction per tensor and a single read-back (a second pass names the culprit).
std::string first_non_finite(const NamedTensors& tensors);
// The same over a module's trainable parameters and floating buffers (non-trainable parameters may hold
// NaN as a "not computed yet" sentinel, as DisMax's precomputed thresholds do).
std::string first_non_finite(const Module& module);

// Reads an integer / float metadata entry; throws naming the file and key when absent or malformed.
int64_t metadata_int(const Metadata& metadata, const std::string& key, const std::string& source);
double metadata_double(const Metadata& metadata, const std::string& key, const std::string& source);

}  // namespace dismax
