// Checked CUDA runtime calls: a failure throws dismax::Error with the call, file and line.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/error.h"

#define DISMAX_CUDA_CHECK(call)                                                                      \
  do {                                                                                               \
    const cudaError_t dismax_status_ = (call);                                                       \
    if (dismax_status_ != cudaSuccess) {                                                             \
      ::dismax::cuda::forget_error(dismax_status_);                                                  \
      DISMAX_FAIL(#call, " failed at ", __FILE__, ":", __LINE__, ": ", cudaGetErrorString(dismax_status_)); \
    }                                                                                                \
  } while (0)

namespace dismax::cuda {

// Clears the runtime's last error when it is the one the call just made returned, so that it does not
// surface in the next, unrelated launch check; an earlier error that nobody has read yet is left in place.
inline void forget_error(cudaError_t just_returned) {
  if (just_returned != cudaSuccess && cudaPeekAtLastError() == just_returned) (void)cudaGetLastError();
}

// The stream every dismax operation on `device` runs on: kernels, copies, memsets, cuBLAS, cuDNN, the
// allocators' events. Created (non-blocking) on first use and kept until the process exits.
cudaStream_t stream(int device);
// The stream of the current device (the one a DeviceGuard selected).
cudaStream_t stream();

}  // namespace dismax::cuda
