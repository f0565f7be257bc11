// Reverse-mode autograd graph: every differentiable op that sees an input requiring grad records a Node
// holding what its backward needs; Tensor::backward walks the nodes in reverse creation order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/grad_mode.h"
#include "engine/tensor.h"

namespace dismax {

class Node;

// Where a gradient goes next: input `input_nr` of node `fn` (null fn: the input needs no gradient).
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

// A tensor kept for backward, with the storage version it had when saved so that an in-place write in
// between is detected instead of silently producing a wrong gradient.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  // Returns the tensor; throws naming `op` if it was freed or modified in place since it was saved.
  const Tensor& unpack(const Node& owner) const;
  void reset() { tensor_ = Tensor(); }
  bool defined() const { return was_defined_; }

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
  bool was_defined_ = false;
};

class Node {
 public:
  virtual ~Node() = default;
  virtual std::string name() const = 0;
  // grads[i] is the gradient of forward output i, contiguous and never undefined (the engine fills zeros
  // and makes expanded gradients contiguous). Returns one
  // gradient per next_edges entry (undefined where no gradient is needed).
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grads) = 0;
  // Drops saved tensors after backward (retain_graph = false).
  virtual void release_saved() {}

  std::vector<Edge> next_edges;
  std::vector<Shape> input_shapes;   // for error messages and gradient shape checks
  std::vector<Shape> output_shapes;  // shapes of the forward outputs, to zero-fill missing grads
  std::vector<DType> output_dtypes;
  std::vector<Device> output_devices;
  uint64_t sequence_nr = 0;
  bool released = false;

  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].valid(); }
  std::string signature() const;  // "conv2d(float32[2, 3, 5, 5], float32[4, 3, 3, 3])"
};

// Terminal node of a leaf: adds the incoming gradient into leaf.grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// True when grad mode is on and any of the inputs requires grad.
bool any_requires_grad(const std::vector<const Tensor*>& inputs);

// Connects `node` to the graph: edges to the inputs' producers, and marks `outputs` as produced by it.
// Call only when any_requires_grad(inputs) is true.
void record(const std::shared_ptr<Node>& node, const std::vector<const Tensor*>& inputs,
            const std::vector<Tensor*>& outputs);

// The edge a gradient for `t` must follow (its grad_fn, or its leaf accumulator, or none).
Edge gradient_edge(const Tensor& t);

// Runs backward from `roots` seeded with `grads` (same shapes).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

}  // namespace dismax
