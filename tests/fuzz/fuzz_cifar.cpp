// libFuzzer target: CIFAR binary batches (CIFAR-10 and CIFAR-100 record layouts) and python pickles.
#include <string>

#include "datasets/dataset.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("data_batch", data, size);
  fuzz::expect_clean([&] { (void)dismax::read_cifar_binary({path}, 10, 1, "fuzz-cifar10"); });
  fuzz::expect_clean([&] { (void)dismax::read_cifar_binary({path}, 100, 2, "fuzz-cifar100"); });
  return fuzz::expect_clean([&] { (void)dismax::read_cifar_python({path}, 10, "fuzz-cifar-python"); });
}
