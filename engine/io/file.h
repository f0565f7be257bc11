// Whole files in and out: one read of a whole file, and the atomic write every output of the project uses
// (checkpoints, results, logs), so that an interrupted run never leaves a damaged file behind.
#pragma once

#include <string>

namespace dismax {

// The bytes of `path`. Throws dismax::Error naming the path and `what` it should be ("CIFAR batch",
// "safetensors file") when it is a folder, cannot be opened or fails to read.
std::string read_whole_file(const std::string& path, const char* what);

// Writes `bytes` to `path` atomically: a temporary file beside it (`path`.tmp.<pid>) is written, flushed to
// disk and renamed over `path`, then the folder is flushed. On failure the previous file is untouched.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace dismax
