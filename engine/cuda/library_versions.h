// The CUDA runtime, cuDNN and cuBLAS that the process loaded, and whether they belong together. A cuDNN or
// cuBLAS built for another CUDA major (a PyTorch wheel for CUDA 12 next to the CUDA 13 runtime, say) fails
// later in confusing ways; the backend refuses such a set at start-up with one line that names both sides.
#pragma once

#include <cstddef>
#include <string>

namespace dismax::cuda {

// Versions in each library's own encoding: CUDA as 1000 * major + 10 * minor (13000 = 13.0), cuDNN as
// 10000 * major + 100 * minor + patch (91900 = 9.19.0).
struct LibraryVersions {
  int runtime = 0;              // cudaRuntimeGetVersion: the libcudart loaded
  int runtime_built = 0;        // CUDART_VERSION: the runtime dismax was compiled against
  size_t cudnn = 0;             // cudnnGetVersion: the libcudnn loaded
  size_t cudnn_built = 0;       // CUDNN_VERSION
  size_t cudnn_cudart = 0;      // cudnnGetCudartVersion: the CUDA runtime that libcudnn was built for
  size_t cublas_cudart = 0;     // cublasGetCudartVersion: the CUDA runtime that libcublas was built for
};

// Empty when the set is consistent (same CUDA major everywhere, the cuDNN major dismax was built against);
// otherwise one line naming the mismatch and what to do about it.
std::string library_mismatch(const LibraryVersions& v);

// What the loaded libraries report (no device or handle needed).
LibraryVersions loaded_library_versions();

std::string cuda_version_text(size_t v);   // 13000 -> "13.0"
std::string cudnn_version_text(size_t v);  // 91900 -> "9.19.0"

}  // namespace dismax::cuda
