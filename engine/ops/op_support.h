// Shared plumbing for the op front ends: argument checks that name the op, output allocation, and
// FunctionNode, which lets an op write its backward as a lambda right beside its forward.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd/node.h"
#include "engine/kernels.h"
#include "engine/ops.h"

namespace dismax {

// grads: gradient of each forward output (contiguous); returns one gradient per recorded input.
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads, const Node& self)>;

class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override { return fn_(grads, *this); }
  void release_saved() override { fn_ = nullptr; }  // destroys the captured saved tensors

 private:
  std::string name_;
  BackwardFn fn_;
};

// Records `fn` as the backward of `outputs` when grad mode is on and an input requires grad.
inline void record_function(const char* name, std::initializer_list<const Tensor*> inputs,
                            std::initializer_list<Tensor*> outputs, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return;
  record(std::make_shared<FunctionNode>(name, std::move(fn)), inputs, outputs);
}

// Lazily builds the backward only when needed (avoids capturing saved tensors for nothing).
template <class MakeFn>
void record_if_needed(const char* name, std::initializer_list<const Tensor*> inputs,
                      std::initializer_list<Tensor*> outputs, MakeFn make_fn) {
  if (!any_requires_grad(inputs)) return;
  record(std::make_shared<FunctionNode>(name, make_fn()), inputs, outputs);
}

inline TensorOptions options_of(const Tensor& t) { return TensorOptions(t.dtype()).device(t.device()); }

// Throws naming `op` unless every defined tensor is defined, on one device and of one floating dtype.
void check_float_operands(const char* op, std::initializer_list<const Tensor*> tensors);
void check_defined(const char* op, const Tensor& t, const char* what);
void check_rank(const char* op, const Tensor& t, int64_t rank, const char* what);

// A stride-0 view of `t` broadcast to `shape` (no autograd).
Tensor broadcast_view(const Tensor& t, const Shape& shape);

}  // namespace dismax
