#include "datasets/file_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/error.h"

namespace dismax {

std::string read_file_bytes(const std::string& path, const char* what) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  DISMAX_CHECK(f != nullptr, "cannot open ", what, " ", path, ": ", std::strerror(errno));
  std::string bytes;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(f.get());
    if (size > 0) bytes.reserve(static_cast<size_t>(size));
    std::rewind(f.get());
  }
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f.get())) > 0) bytes.append(buffer, n);
  DISMAX_CHECK(!std::ferror(f.get()), "cannot read ", what, " ", path, ": ", std::strerror(errno));
  return bytes;
}

}  // namespace dismax
