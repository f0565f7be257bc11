// Shared by the libFuzzer targets: readers that take a path get the input through a file in a private
// folder (/dev/shm when there is one), and every dismax::Error is an expected rejection; anything else
// escaping (another exception, a crash, a sanitizer report) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/error.h"

namespace fuzz {

inline std::string scratch_path(const std::string& name) {
  static const std::string dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    base /= "dismax_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(base);
    return base.string();
  }();
  return dir + "/" + name;
}

inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_path(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  return path;
}

// Runs `body`; a dismax::Error is the reader refusing bad input, which is what it should do.
template <class F>
int expect_clean(F&& body) {
  try {
    body();
  } catch (const dismax::Error&) {
  }
  return 0;
}

}  // namespace fuzz
