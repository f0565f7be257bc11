#include "engine/math_mode.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "engine/error.h"

namespace dismax {

namespace {
std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> flag{[] {
    const char* v = std::getenv("DISMAX_ALLOW_TF32");
    return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
  }()};
  return flag;
}

std::atomic<unsigned>& denied_flags() {
  static std::atomic<unsigned> flags{[] {
    const char* v = std::getenv("DISMAX_CONV_DENY");
    if (v == nullptr) return 0u;
    try {
      return parse_conv_algorithm_families(v);
    } catch (const Error& e) {
      throw Error(std::string("DISMAX_CONV_DENY: ") + e.what());
    }
  }()};
  return flags;
}
}  // namespace

void set_allow_tf32(bool allow) { tf32_flag().store(allow); }
bool allow_tf32() { return tf32_flag().load(); }

unsigned parse_conv_algorithm_families(const std::string& list) {
  unsigned flags = 0;
  std::stringstream in(list);
  std::string word;
  while (std::getline(in, word, ',')) {
    if (word.empty()) continue;
    if (word == "winograd") flags |= kConvWinograd;
    else if (word == "fft") flags |= kConvFft;
    else if (word == "nondeterministic") flags |= kConvNondeterministic;
    else DISMAX_FAIL("unknown convolution algorithm family '", word, "' (expected winograd, fft, nondeterministic)");
  }
  return flags;
}

void set_denied_conv_algorithms(unsigned families) { denied_flags().store(families); }
unsigned denied_conv_algorithms() { return denied_flags().load(); }

}  // namespace dismax
