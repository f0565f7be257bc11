// cuDNN through its graph (backend) API: RAII backend descriptors with checked attribute setters, the cuDNN
// handle of each device, and a cache of execution plans for one-operation graphs, chosen once per key by the
// heuristics (optionally autotuned) and then reused. The legacy imperative API is not used anywhere.
#pragma once

// Makes any use of an API that cuDNN marks deprecated a compiler warning in the files that include this one.
#ifndef CUDNN_WARN_DEPRECATED
#define CUDNN_WARN_DEPRECATED
#endif
#include <cudnn_graph.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/error.h"

namespace dismax::cuda {

// "CUDNN_STATUS_BAD_PARAM (2000): <cudnnGetLastErrorString text>". Call it right after the failing call:
// cuDNN keeps appending to the calling thread's last-error text until it is read, and reading clears it.
std::string cudnn_status_text(cudnnStatus_t status);
[[noreturn]] void cudnn_fail(cudnnStatus_t status, const char* call, const char* file, int line,
                             const std::string& context);

}  // namespace dismax::cuda

// DISMAX_CUDNN_CHECK(call, context parts...): throws dismax::Error naming the call, file, line, status and
// cuDNN's last error text, followed by the context (the op and its shapes).
#define DISMAX_CUDNN_CHECK(call, ...)                                             \
  do {                                                                            \
    const cudnnStatus_t dismax_cudnn_status_ = (call);                            \
    if (dismax_cudnn_status_ != CUDNN_STATUS_SUCCESS)                             \
      ::dismax::cuda::cudnn_fail(dismax_cudnn_status_, #call, __FILE__, __LINE__, \
                                 ::dismax::detail::concat(__VA_ARGS__));          \
  } while (0)

namespace dismax::cuda {

const char* cudnn_descriptor_type_name(cudnnBackendDescriptorType_t type);
const char* cudnn_attribute_name(cudnnBackendAttributeName_t name);

// One backend descriptor (cudnnBackendCreateDescriptor .. cudnnBackendDestroyDescriptor). Every setter and
// getter is checked; a failure names the descriptor type, the attribute, its type and element count.
class Descriptor {
 public:
  Descriptor() = default;
  explicit Descriptor(cudnnBackendDescriptorType_t type);
  ~Descriptor();
  Descriptor(Descriptor&& other) noexcept;
  Descriptor& operator=(Descriptor&& other) noexcept;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  cudnnBackendDescriptor_t get() const { return desc_; }
  cudnnBackendDescriptorType_t type() const { return type_; }

  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
           const void* values);
  void set_int64(cudnnBackendAttributeName_t name, int64_t value) { set(name, CUDNN_TYPE_INT64, 1, &value); }
  void set_int64s(cudnnBackendAttributeName_t name, const std::vector<int64_t>& values) {
    set(name, CUDNN_TYPE_INT64, static_cast<int64_t>(values.size()), values.data());
  }
  void set_data_type(cudnnBackendAttributeName_t name, cudnnDataType_t value) {
    set(name, CUDNN_TYPE_DATA_TYPE, 1, &value);
  }
  void set_descriptor(cudnnBackendAttributeName_t name, const Descriptor& value) {
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value.desc_);
  }
  void finalize();
  cudnnStatus_t try_finalize();  // for descriptors that may legitimately be unsupported (plans, heuristics)

  // Reads up to `capacity` elements into `out`; returns how many cuDNN reported.
  int64_t get(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t capacity,
              void* out) const;
  int64_t get_int64(cudnnBackendAttributeName_t name) const;

 private:
  cudnnBackendDescriptor_t desc_ = nullptr;
  cudnnBackendDescriptorType_t type_ = CUDNN_BACKEND_POINTWISE_DESCRIPTOR;
};

// The cuDNN handle of `device` (created on first use, bound to stream(device), never destroyed).
cudnnHandle_t cudnn_handle(int device);

cudnnDataType_t cudnn_data_type(DType dtype);
// The largest power of two up to 16 that divides the address (the BYTE_ALIGNMENT of a tensor descriptor).
int64_t byte_alignment(const void* ptr);

// Identifies a one-operation graph up to its data pointers: an operation code chosen by the caller, the
// device, the dtype, the TF32 choice and whatever else fixes the graph (dims, strides, alignments, op
// parameters).
struct PlanKey {
  int operation = 0;
  int device = 0;
  DType dtype = DType::Float32;
  bool tf32 = false;    // TF32 tensor-core engines allowed (float32 only)
  unsigned denied = 0;  // ConvAlgorithmFamily flags (engine/math_mode.h) whose engines are not chosen
  std::vector<int64_t> params;
  bool operator==(const PlanKey& o) const {
    return operation == o.operation && device == o.device && dtype == o.dtype && tf32 == o.tf32 &&
           denied == o.denied && params == o.params;
  }
};

// Tensor uids and device pointers of one execution, in matching order.
struct VariantPack {
  std::vector<int64_t> uids;
  std::vector<void*> pointers;
};

// Builds the finalized operation descriptor of the graph; descriptors it references (tensors, convolution)
// go to keep_alive. Called only when the key is not in the plan cache.
using OperationBuilder = std::function<Descriptor(std::vector<Descriptor>& keep_alive)>;
// Names the op and its shapes for messages; called only when a plan is chosen or something fails.
using Describer = std::function<std::string()>;

// Runs the graph identified by `key` on stream() with the buffers of `pack`; `key.device` must be current.
// On the first call for a key the plan is chosen and cached: heuristic mode A (then FALLBACK if A yields
// nothing usable) proposes engine configs in order; configs that down-convert inputs, use tensor cores on
// float32 without key.tf32, belong to a family in key.denied, or need more workspace than
// DISMAX_CUDNN_WORKSPACE_MB (default 1024) are skipped, and runtime-compiled engines are used only when
// nothing else works. The first plan that finalizes, gets its workspace and executes is kept, or, with
// autotuning (DISMAX_CUDNN_BENCHMARK unset or not "0"), the fastest of up to 8 by the median of 5 timed
// executions after a warm-up, timed with CUDA events on these very buffers (outputs get overwritten, so
// the graph must write them with beta = 0). The candidates' workspaces are freed after timing; executions
// take theirs from the caching allocator. `what()` ends every error message; DISMAX_CUDNN_VERBOSE=1
// prints each choice to stderr. Thread-safe: one mutex guards the cache, the handles and the executions.
// Returns false, having run nothing, when `optional` is set and no engine can run the graph (the caller
// computes it another way); throws in that case otherwise. The cache lives until the process exits.
bool execute_cached(const PlanKey& key, const OperationBuilder& build, const VariantPack& pack,
                    const Describer& what, bool optional = false);

// The plans of the most recent executions (up to 8), a line each: "cuDNN <op and shapes>: <engine ...>".
std::string recent_plan_report();

}  // namespace dismax::cuda
