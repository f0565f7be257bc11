#include <mutex>

#include "engine/kernels.h"

namespace dismax {

namespace cpu {
const Backend& backend();
}
#ifdef DISMAX_WITH_CUDA
namespace cuda {
// Null when no usable GPU is present; `reason` then says why (driver, no device, ...).
const Backend* backend(std::string* reason);
}
#endif

namespace {
#ifdef DISMAX_WITH_CUDA
const Backend* cuda_backend_or_null(std::string* reason) {
  static std::string why;
  static const Backend* b = cuda::backend(&why);
  if (reason) *reason = why;
  return b;
}
#endif
}  // namespace

const Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu::backend();
#ifdef DISMAX_WITH_CUDA
  std::string reason;
  const Backend* b = cuda_backend_or_null(&reason);
  DISMAX_CHECK(b != nullptr, "device ", device.str(), " is not available: ", reason);
  const int count = b->device_count();
  DISMAX_CHECK(device.index >= 0 && device.index < count, "device ", device.str(), " does not exist (", count,
               " CUDA device(s) visible)");
  return *b;
#else
  DISMAX_FAIL("device ", device.str(), " is not available: dismax was built without CUDA (reconfigure with "
              "-DDISMAX_CUDA=ON on a machine with nvcc and cuDNN)");
#endif
}

Allocator& device_allocator(Device device) { return *backend_for(device).allocator; }

bool backend_available(DeviceType type) {
  if (type == DeviceType::CPU) return true;
#ifdef DISMAX_WITH_CUDA
  return cuda_backend_or_null(nullptr) != nullptr;
#else
  return false;
#endif
}

std::vector<std::string> kernel_names() {
  std::vector<std::string> names;
#define DISMAX_KERNEL_NAME(name, signature) names.push_back(#name);
  DISMAX_KERNEL_LIST(DISMAX_KERNEL_NAME)
#undef DISMAX_KERNEL_NAME
  return names;
}

bool kernel_supported(DeviceType type, const std::string& kernel_name) {
  if (!backend_available(type)) return false;
  const KernelTable& k = backend_for(type == DeviceType::CPU ? Device::cpu() : Device::cuda(0)).kernels;
#define DISMAX_KERNEL_PRESENT(name, signature) \
  if (kernel_name == #name) return k.name != nullptr;
  DISMAX_KERNEL_LIST(DISMAX_KERNEL_PRESENT)
#undef DISMAX_KERNEL_PRESENT
  DISMAX_FAIL("kernel_supported: there is no kernel named '", kernel_name, "'");
}

std::string backend_diagnostics(Device device) {
  if (!backend_available(device.type)) return "";
  const Backend& b = backend_for(device);
  return b.diagnostics != nullptr ? b.diagnostics() : "";
}

namespace detail {
void kernel_missing(const char* name, Device device) {
  DISMAX_FAIL("kernel '", name, "' is not supported on ", device.str(), " (", backend_for(device).name,
              " backend); move the tensors to a device that supports it explicitly");
}
}  // namespace detail

}  // namespace dismax
