#include "engine/cpu/cpu_kernels.h"

namespace dismax::cpu {

const Backend& backend() {
  static const Backend b = [] {
    Backend out;
    out.name = "cpu";
    out.allocator = &cpu_allocator();
#define DISMAX_FILL_CPU_SLOT(name, signature) out.kernels.name = &cpu::name;
    DISMAX_KERNEL_LIST(DISMAX_FILL_CPU_SLOT)
#undef DISMAX_FILL_CPU_SLOT
    out.kernels.copy_between_devices = nullptr;  // host <-> device copies belong to the device backends
    out.device_count = [] { return 1; };
    out.synchronize = [](int) {};
    return out;
  }();
  return b;
}

// The CPU never copies between devices itself; the slot stays empty but the symbol must exist.
void copy_between_devices(Tensor&, const Tensor&) { DISMAX_FAIL("copy_between_devices: not a CPU kernel"); }

}  // namespace dismax::cpu
