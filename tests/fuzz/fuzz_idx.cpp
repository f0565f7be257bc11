// libFuzzer target: IDX images (MNIST layout). The labels file is made to match the count the images
// header declares (when it is small), so the fuzzer reaches the image checks, not just the count check.
#include <string>

#include "datasets/dataset.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string images = fuzz::write_input("images-idx3-ubyte", data, size);
  uint32_t n = 0;
  if (size >= 8) n = uint32_t{data[4]} << 24 | uint32_t{data[5]} << 16 | uint32_t{data[6]} << 8 | data[7];
  if (n > 4096) n = 1;
  std::string labels = std::string("\0\0\x08\x01", 4);
  for (int s = 24; s >= 0; s -= 8) labels += static_cast<char>((n >> s) & 0xff);
  labels += std::string(n, '\x03');
  const std::string labels_path =
      fuzz::write_input("labels-idx1-ubyte", reinterpret_cast<const uint8_t*>(labels.data()), labels.size());
  return fuzz::expect_clean([&] { (void)dismax::read_idx(images, labels_path, 10, "fuzz-idx"); });
}
