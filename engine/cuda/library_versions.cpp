#include "engine/cuda/library_versions.h"

#include <cublas_v2.h>
#include <cudnn_graph.h>
#include <cuda_runtime_api.h>

#include "engine/cuda/check.h"

namespace dismax::cuda {

std::string cuda_version_text(size_t v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

std::string cudnn_version_text(size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

std::string library_mismatch(const LibraryVersions& v) {
  const size_t cuda_major = static_cast<size_t>(v.runtime) / 1000;
  const std::string runtime = "the CUDA runtime (libcudart) is " + cuda_version_text(v.runtime);
  if (cuda_major != static_cast<size_t>(v.runtime_built) / 1000)
    return "dismax was built against CUDA " + cuda_version_text(v.runtime_built) + " but " + runtime +
           ": rebuild dismax, or put the matching libcudart first on LD_LIBRARY_PATH";
  if (v.cudnn / 10000 != v.cudnn_built / 10000)
    return "dismax was built against cuDNN " + cudnn_version_text(v.cudnn_built) + " but the loaded libcudnn is " +
           cudnn_version_text(v.cudnn) + ": rebuild dismax against it (CUDNN_ROOT) or load a cuDNN " +
           std::to_string(v.cudnn_built / 10000);
  if (v.cudnn_cudart / 1000 != cuda_major)
    return "the loaded cuDNN " + cudnn_version_text(v.cudnn) + " was built for CUDA " +
           cuda_version_text(v.cudnn_cudart) + " but " + runtime + ": use a cuDNN built for CUDA " +
           std::to_string(cuda_major) + " (the toolkit's, or PyTorch's nvidia-cudnn-cu" + std::to_string(cuda_major) +
           " wheel) via CUDNN_ROOT / LD_LIBRARY_PATH";
  if (v.cublas_cudart / 1000 != cuda_major)
    return "the loaded cuBLAS was built for CUDA " + cuda_version_text(v.cublas_cudart) + " but " + runtime +
           ": use the cuBLAS of the same CUDA toolkit (CUBLAS_ROOT / LD_LIBRARY_PATH)";
  return "";
}

LibraryVersions loaded_library_versions() {
  LibraryVersions v;
  const cudaError_t status = cudaRuntimeGetVersion(&v.runtime);
  if (status != cudaSuccess) forget_error(status);
  v.runtime_built = CUDART_VERSION;
  v.cudnn = cudnnGetVersion();
  v.cudnn_built = CUDNN_VERSION;
  v.cudnn_cudart = cudnnGetCudartVersion();
  v.cublas_cudart = cublasGetCudartVersion();
  return v;
}

}  // namespace dismax::cuda
