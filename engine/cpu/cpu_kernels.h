// The CPU backend's kernels: one function per slot of the KernelTable (engine/kernels.h), same
// signatures and conventions. Float32 and Float64 everywhere; Int64 where a kernel says so.
#pragma once

#include "engine/kernels.h"

namespace dismax::cpu {

#define DISMAX_DECLARE_CPU_KERNEL(name, signature) kernel_fn::name name;
DISMAX_KERNEL_LIST(DISMAX_DECLARE_CPU_KERNEL)
#undef DISMAX_DECLARE_CPU_KERNEL

}  // namespace dismax::cpu
