// The CUDA backend's kernels: one function per slot of the KernelTable (engine/kernels.h), same signatures
// and conventions as the CPU backend. Each source file defines the kernels it owns; backend.cpp registers
// every one of them.
#pragma once

#include "engine/kernels.h"

namespace dismax::cuda {

#define DISMAX_DECLARE_CUDA_KERNEL(name, signature) kernel_fn::name name;
DISMAX_KERNEL_LIST(DISMAX_DECLARE_CUDA_KERNEL)
#undef DISMAX_DECLARE_CUDA_KERNEL

}  // namespace dismax::cuda
