#include "engine/autograd/node.h"

#include <atomic>
#include <limits>

namespace dismax {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
}  // namespace

SavedTensor::SavedTensor(const Tensor& t) : was_defined_(t.defined()) {
  if (t.defined()) {
    tensor_ = t.detach();  // no autograd meta: saving an op's own output must not form a cycle
    version_ = t.storage()->version();
  }
}

const Tensor& SavedTensor::unpack(const Node& owner) const {
  if (!was_defined_) return tensor_;
  DISMAX_CHECK(tensor_.defined(), owner.signature(),
               ": the tensors saved for backward were already freed by an earlier backward; pass "
               "retain_graph=true to the first backward to backpropagate twice");
  DISMAX_CHECK(tensor_.storage()->version() == version_, owner.signature(), ": a tensor saved for backward (",
               tensor_.describe(), ") was modified by an in-place operation after it was saved");
  return tensor_;
}

std::string Node::signature() const {
  std::string s = name() + "(";
  for (size_t i = 0; i < input_shapes.size(); ++i) s += (i ? ", " : "") + shape_str(input_shapes[i]);
  return s + ")";
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>& grads) {
  Tensor& g = grads[0];
  AutogradMeta& meta = leaf_->autograd_meta();
  if (!meta.grad.defined()) {
    // Steal the buffer when nothing else can see it; otherwise the later in-place accumulation would
    // write into a tensor someone else holds.
    const bool sole_owner = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous() &&
                            g.storage_offset() == 0 && g.dtype() == leaf_->dtype;
    meta.grad = sole_owner ? g : g.to(leaf_->dtype).clone();
  } else {
    meta.grad.add_(g);
  }
  return {};
}

bool any_requires_grad(const std::vector<const Tensor*>& inputs) {
  if (!grad_mode_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t != nullptr && t->defined() && t->requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.output_nr()};
  AutogradMeta& meta = t.impl()->autograd_meta();
  std::shared_ptr<Node> acc = meta.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    acc->output_shapes = {t.sizes()};
    acc->output_dtypes = {t.dtype()};
    acc->output_devices = {t.device()};
    acc->input_shapes = {t.sizes()};
    acc->sequence_nr = std::numeric_limits<uint64_t>::max();
    meta.grad_accumulator = acc;
  }
  return {acc, 0};
}

void record(const std::shared_ptr<Node>& node, const std::vector<const Tensor*>& inputs,
            const std::vector<Tensor*>& outputs) {
  node->sequence_nr = next_sequence_nr++;
  node->next_edges.reserve(inputs.size());
  node->input_shapes.reserve(inputs.size());
  for (const Tensor* t : inputs) {
    const bool present = t != nullptr && t->defined();
    node->next_edges.push_back(present ? gradient_edge(*t) : Edge{});
    node->input_shapes.push_back(present ? t->sizes() : Shape{});
  }
  uint32_t nr = 0;
  for (Tensor* out : outputs) {
    AutogradMeta& meta = out->impl()->autograd_meta();
    meta.requires_grad = true;
    meta.grad_fn = node;
    meta.output_nr = nr++;
    node->output_shapes.push_back(out->sizes());
    node->output_dtypes.push_back(out->dtype());
    node->output_devices.push_back(out->device());
  }
}

}  // namespace dismax
