// Checked CUDA runtime calls: a failure throws dismax::Error with the call, file and line.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/error.h"

#define DISMAX_CUDA_CHECK(call)                                                                      \
  do {                                                                                               \
    const cudaError_t dismax_status_ = (call);                                                       \
    if (dismax_status_ != cudaSuccess)                                                               \
      DISMAX_FAIL(#call, " failed at ", __FILE__, ":", __LINE__, ": ", cudaGetErrorString(dismax_status_)); \
  } while (0)
