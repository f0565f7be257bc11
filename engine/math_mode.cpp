#include "engine/math_mode.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace dismax {

namespace {
std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> flag{[] {
    const char* v = std::getenv("DISMAX_ALLOW_TF32");
    return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
  }()};
  return flag;
}
}  // namespace

void set_allow_tf32(bool allow) { tf32_flag().store(allow); }
bool allow_tf32() { return tf32_flag().load(); }

}  // namespace dismax
