// The backward pass: dependency counting over the graph reachable from the roots, then nodes run in
// reverse creation order as soon as all gradients for them have arrived.
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd/node.h"
#include "engine/kernels.h"

namespace dismax {

namespace {

struct LaterFirst {
  bool operator()(const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) const {
    return a->sequence_nr < b->sequence_nr;
  }
};

// a + b into a new tensor: out of place, as either side may be aliased elsewhere. Gradients meeting at one
// input have its shape; one kernel call when they also share dtype and layout.
Tensor sum_of(const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype() && a.sizes() == b.sizes() && a.is_contiguous() && b.is_contiguous()) {
    Tensor out = Tensor::empty_like(a);
    DISMAX_KERNEL(a.device(), binary)(BinaryOp::Add, a, b, out, 1.0);
    return out;
  }
  Tensor out = a.clone();
  out.add_(b);
  return out;
}

void accumulate(std::vector<Tensor>& buffer, size_t index, Tensor grad) {
  buffer[index] = buffer[index].defined() ? sum_of(buffer[index], grad) : std::move(grad);
}

}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;
  DISMAX_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " roots but ", grads.size(), " gradients");

  std::vector<Edge> root_edges;
  for (const Tensor& root : roots) {
    Edge e = gradient_edge(root);
    DISMAX_CHECK(e.valid(), "backward: ", root.describe(), " does not require grad");
    root_edges.push_back(e);
  }

  std::unordered_map<Node*, int> dependencies;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack;
  for (const Edge& e : root_edges)
    if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& e : node->next_edges) {
      if (!e.valid()) continue;
      ++dependencies[e.fn.get()];
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  auto buffer_of = [&](Node* node) -> std::vector<Tensor>& {
    auto& buffer = buffers[node];
    if (buffer.empty()) buffer.resize(node->output_shapes.size());
    return buffer;
  };

  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, LaterFirst> ready;
  for (size_t i = 0; i < roots.size(); ++i) {
    accumulate(buffer_of(root_edges[i].fn.get()), root_edges[i].input_nr, grads[i]);
  }
  for (const Edge& e : root_edges)
    if (dependencies[e.fn.get()] == 0) {
      dependencies[e.fn.get()] = -1;  // queued
      ready.push(e.fn);
    }

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    DISMAX_CHECK(!node->released, "backward through ", node->signature(),
                 " a second time: its saved tensors were freed by the first backward; pass retain_graph=true "
                 "to the first call to keep them");
    std::vector<Tensor> inputs = std::move(buffer_of(node.get()));
    buffers.erase(node.get());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) {
        inputs[i] = Tensor::zeros(node->output_shapes[i],
                                  TensorOptions(node->output_dtypes[i]).device(node->output_devices[i]));
      } else if (!inputs[i].is_contiguous()) {
        inputs[i] = inputs[i].contiguous();  // backward functions may hand kernels their gradient directly
      }
    }
    std::vector<Tensor> outputs = node->apply(inputs);
    inputs.clear();
    if (!retain_graph && !dynamic_cast<AccumulateGrad*>(node.get())) {
      node->release_saved();
      node->released = true;
    }
    DISMAX_CHECK(outputs.size() == node->next_edges.size() || outputs.empty(), node->signature(), " returned ",
                 outputs.size(), " gradients for ", node->next_edges.size(), " inputs");
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      if (i < outputs.size() && outputs[i].defined()) {
        DISMAX_CHECK(outputs[i].sizes() == node->input_shapes[i], node->signature(), ": gradient for input ", i,
                     " has shape ", shape_str(outputs[i].sizes()), ", expected ", shape_str(node->input_shapes[i]));
        accumulate(buffer_of(e.fn.get()), e.input_nr, std::move(outputs[i]));
      }
      if (--dependencies[e.fn.get()] == 0) ready.push(e.fn);
    }
  }
}

}  // namespace dismax
