// libFuzzer target: MATLAB v5 files as SVHN ships them (compressed and plain elements, X and y arrays).
#include <string>

#include "datasets/dataset.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("train_32x32.mat", data, size);
  return fuzz::expect_clean([&] { (void)dismax::read_svhn_mat(path); });
}
