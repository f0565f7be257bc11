// The SGD step of a whole model in one launch: a table of (parameter, gradient, buffer, size) entries and a
// table of fixed-size chunks, one block per chunk, uploaded asynchronously with the step.
#include <cstdint>
#include <vector>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_kernels.h"
#include "engine/cuda/sgd_step.cuh"

namespace dismax::cuda {

namespace {

constexpr int64_t kChunk = 16384;   // elements per block
constexpr int kEntryWords = 5;      // param, grad, buffer (0: none), numel, first step
constexpr int kChunkWords = 2;      // entry, first element

template <class T>
__global__ void sgd_many_kernel(const int64_t* entries, const int64_t* chunks, SgdStep<T> a) {
  const int64_t* chunk = chunks + blockIdx.x * kChunkWords;
  const int64_t* e = entries + chunk[0] * kEntryWords;
  T* p = reinterpret_cast<T*>(e[0]);
  const T* g = reinterpret_cast<const T*>(e[1]);
  T* buf = reinterpret_cast<T*>(e[2]);
  const int64_t end = min(chunk[1] + kChunk, e[3]);
  const bool first = e[4] != 0;
  for (int64_t i = chunk[1] + threadIdx.x; i < end; i += blockDim.x) sgd_element(p, g, buf, i, a, first);
}

}  // namespace

void sgd_update_many(std::vector<SgdTensors>& tensors, const SgdArgs& args) {
  if (tensors.empty()) return;
  const Tensor& first = tensors.front().param;
  DeviceGuard guard(first);
  const DType dtype = first.dtype();
  bool uniform = true;
  for (const SgdTensors& t : tensors) uniform &= t.param.dtype() == dtype && t.param.device() == first.device();
  if (!uniform) {  // mixed dtypes: one launch per parameter
    for (SgdTensors& t : tensors) {
      SgdArgs a = args;
      a.first_step = t.first_step;
      sgd_update(t.param, t.grad, t.momentum_buffer, a);
    }
    return;
  }
  std::vector<int64_t> table;  // entries, then chunks
  std::vector<int64_t> chunks;
  int64_t entry = 0;
  for (const SgdTensors& t : tensors) {
    const int64_t n = t.param.numel();
    if (n == 0) continue;
    table.insert(table.end(), {reinterpret_cast<int64_t>(t.param.raw_data()), reinterpret_cast<int64_t>(t.grad.raw_data()),
                               t.momentum_buffer.defined() ? reinterpret_cast<int64_t>(t.momentum_buffer.raw_data()) : 0,
                               n, t.first_step ? 1 : 0});
    for (int64_t begin = 0; begin < n; begin += kChunk) chunks.insert(chunks.end(), {entry, begin});
    ++entry;
  }
  if (entry == 0) return;
  const int64_t chunk_offset = static_cast<int64_t>(table.size());
  const auto blocks = static_cast<int64_t>(chunks.size() / kChunkWords);
  DISMAX_CHECK(blocks < (int64_t{1} << 31), "sgd_update_many: too many chunks (", blocks, ")");
  table.insert(table.end(), chunks.begin(), chunks.end());
  const Tensor device_table = Tensor::from_vector(table, {static_cast<int64_t>(table.size())}, first.device());
  const int64_t* words = ptr<int64_t>(device_table);
  dispatch_float(dtype, "sgd_update_many", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const SgdStep<T> step{static_cast<T>(args.lr), static_cast<T>(args.momentum), static_cast<T>(args.dampening),
                          static_cast<T>(args.weight_decay), args.nesterov, false};
    sgd_many_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream()>>>(words, words + chunk_offset, step);
    DISMAX_CUDA_CHECK_LAUNCH("sgd_update_many");
  });
}

}  // namespace dismax::cuda
