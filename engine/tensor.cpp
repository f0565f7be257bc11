// The tensor handle itself: creation of uninitialised storage, geometry, host data access and the autograd
// fields. Everything that computes (filling, conversions, views, in-place writes, backward) runs a kernel
// or an op and lives above them, in engine/ops/tensor_methods.cpp.
#include "engine/tensor.h"

#include <cstring>


namespace dismax {

// ---- creation

Tensor Tensor::empty(const Shape& shape, TensorOptions options) {
  for (int64_t s : shape) DISMAX_CHECK(s >= 0, "empty: negative dimension in shape ", shape_str(shape));
  DISMAX_CHECK(options.dtype() != DType::Float16 && options.dtype() != DType::BFloat16,
               "tensors of dtype ", dtype_name(options.dtype()), " are not supported yet");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(options.dtype()), options.device());
  impl->sizes = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype();
  Tensor t(std::move(impl));
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// ---- metadata

void Tensor::check_defined(const char* what) const {
  DISMAX_CHECK(impl_ != nullptr, what, ": the tensor is undefined");
}
const Shape& Tensor::sizes() const { check_defined("sizes"); return impl_->sizes; }
const Shape& Tensor::strides() const { check_defined("strides"); return impl_->strides; }
int64_t Tensor::size(int64_t d) const { return sizes()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }
int64_t Tensor::dim() const { return static_cast<int64_t>(sizes().size()); }
int64_t Tensor::numel() const { return shape_numel(sizes()); }
int64_t Tensor::storage_offset() const { check_defined("storage_offset"); return impl_->offset; }
DType Tensor::dtype() const { check_defined("dtype"); return impl_->dtype; }
Device Tensor::device() const { check_defined("device"); return impl_->storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { check_defined("storage"); return impl_->storage; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (size_t i = impl_->sizes.size(); i-- > 0;) {
    if (impl_->sizes[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->sizes[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape_str(sizes()) + " on " + device().str();
}

// ---- data access

void* Tensor::raw_data() const {
  check_defined("data");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(itemsize());
}

template <class T>
T* Tensor::data() const {
  DISMAX_CHECK(dtype() == dtype_of<T>, "data<", dtype_name(dtype_of<T>), ">: tensor is ", describe());
  DISMAX_CHECK(device().is_cpu(), "data<>: host access to ", describe(), "; copy it with .to(Device::cpu())");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;
template uint8_t* Tensor::data<uint8_t>() const;

void Tensor::set_data(const Tensor& src) {
  check_defined("set_data");
  DISMAX_CHECK(src.defined(), "set_data: the source tensor is undefined");
  DISMAX_CHECK(is_leaf(), "set_data: only leaf tensors can be rebound, ", describe(), " has a grad_fn");
  impl_->storage = src.storage();
  impl_->sizes = src.sizes();
  impl_->strides = src.strides();
  impl_->offset = src.storage_offset();
  impl_->dtype = src.dtype();
}

// ---- views without data movement

Tensor Tensor::detach() const {
  return make_view(*this, sizes(), strides(), storage_offset());
}

bool Tensor::is_pinned() const { return defined() && storage()->pinned(); }

// ---- autograd

bool Tensor::requires_grad() const {
  check_defined("requires_grad");
  return impl_->autograd && impl_->autograd->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  check_defined("set_requires_grad");
  DISMAX_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad; call detach() first");
  DISMAX_CHECK(!requires_grad || is_floating(dtype()), "set_requires_grad: only floating tensors can require grad, got ",
               describe());
  impl_->autograd_meta().requires_grad = requires_grad;
  return *this;
}

const Tensor& Tensor::grad() const {
  static const Tensor undefined;
  check_defined("grad");
  return impl_->autograd ? impl_->autograd->grad : undefined;
}

void Tensor::set_grad(const Tensor& grad) {
  check_defined("set_grad");
  DISMAX_CHECK(!grad.defined() || grad.sizes() == sizes(), "set_grad: gradient ", grad.describe(),
               " does not match ", describe());
  impl_->autograd_meta().grad = grad;
}

void Tensor::zero_grad() {
  if (impl_ && impl_->autograd) impl_->autograd->grad = Tensor();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  check_defined("grad_fn");
  return impl_->autograd ? impl_->autograd->grad_fn : none;
}

uint32_t Tensor::output_nr() const { return impl_->autograd ? impl_->autograd->output_nr : 0; }

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

}  // namespace dismax
