#include "engine/device.h"

#include <cstdlib>

#include "engine/error.h"

namespace dismax {

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    char* end = nullptr;
    const long index = std::strtol(text.c_str() + 5, &end, 10);
    if (*end == '\0' && index >= 0 && index < 1024) return Device::cuda(static_cast<int>(index));
  }
  DISMAX_FAIL("unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

}  // namespace dismax
