// libFuzzer target: the safetensors reader (header JSON, dtypes, shapes, offsets, aliasing, trailing data).
#include <string>

#include "engine/io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::expect_clean([&] {
    (void)dismax::parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
  });
}
