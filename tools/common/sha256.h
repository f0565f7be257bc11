// SHA-256 of a file, hex-encoded (recorded in results.json to identify the evaluated checkpoint).
#pragma once

#include <string>

namespace dismax {

std::string sha256_file(const std::string& path);   // throws naming the file if it cannot be read
std::string sha256_bytes(const std::string& bytes);

}  // namespace dismax
