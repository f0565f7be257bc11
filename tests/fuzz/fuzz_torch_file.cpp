// libFuzzer target: PyTorch checkpoints. The input is read as a whole .pth (zip archive, libzip) and as the
// data.pkl of one whose storages "0" and "1" hold 64 bytes each (the restricted unpickler, storage
// references, views), so that mutations reach the pickle without first having to mend zip checksums.
#include <map>
#include <string>

#include "engine/io/torch_file.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  static const std::map<std::string, std::string> storages = {{"0", std::string(64, '\x01')},
                                                              {"1", std::string(64, '\x3f')}};
  return fuzz::expect_clean([&] {
    if (dismax::looks_like_zip(bytes)) (void)dismax::parse_torch_file(bytes, "fuzz.pth");
    else (void)dismax::parse_state_dict_pickle(bytes, storages, "fuzz.pth");
  });
}
