// Reading and writing the safetensors format (an 8-byte little-endian header length, a JSON header
// mapping each name to dtype, shape and data_offsets plus a "__metadata__" string map, then the raw
// little-endian data). Files written by Python's safetensors (PyTorch) load here and vice versa.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace dismax {

struct TensorFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order (sorted by offset)
  std::map<std::string, std::string> metadata;

  bool contains(const std::string& name) const;
  // The named tensor; throws naming the file and the tensor when it is missing.
  const Tensor& at(const std::string& name) const;
  std::string source;  // path it was read from
};

// Reads and validates the whole file into host tensors. Any inconsistency (truncation, bad JSON, an
// unknown dtype, offsets outside the data or not matching the shape) throws dismax::Error naming the file
// and, where it applies, the tensor.
TensorFile load_safetensors(const std::string& path);
// The same on bytes already in memory; `source` names them in errors (and in TensorFile::source).
TensorFile parse_safetensors(const std::string& bytes, const std::string& source);

// The metadata alone (reads the header, not the data); the same checks of the header as load_safetensors.
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

// Writes tensors (any device; copied to the host) and metadata atomically: a temporary file in the same
// folder is written, flushed to disk and renamed over `path`, so an interrupted save never leaves a
// damaged file behind.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace dismax
