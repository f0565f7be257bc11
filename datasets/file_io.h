// Whole-file reads for the dataset readers (one fread, not a character stream).
#pragma once

#include <string>

namespace dismax {

// The bytes of `path`; throws dismax::Error "cannot open <what> <path>" / "cannot read ..." on failure.
std::string read_file_bytes(const std::string& path, const char* what);

}  // namespace dismax
