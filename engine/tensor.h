// Tensor: a strided view (shape, strides, offset, dtype) of reference-counted device storage, plus the
// autograd state PyTorch users expect (requires_grad, grad, grad_fn). Copying a Tensor copies the handle,
// not the data. Differentiable operations are free functions in engine/ops.h; the methods here that
// compute forward to them or to the kernels (engine/ops/tensor_methods.cpp).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace dismax {

class Node;
class Generator;
struct TensorImpl;

class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(DType dtype) : dtype_(dtype) {}     // NOLINT: implicit on purpose, like PyTorch
  TensorOptions(Device device) : device_(device) {}  // NOLINT
  TensorOptions dtype(DType d) const { auto o = *this; o.dtype_ = d; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r) const { auto o = *this; o.requires_grad_ = r; return o; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool requires_grad() const { return requires_grad_; }

 private:
  DType dtype_ = DType::Float32;
  Device device_ = Device::cpu();
  bool requires_grad_ = false;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation
  static Tensor empty(const Shape& shape, TensorOptions options = {});
  static Tensor zeros(const Shape& shape, TensorOptions options = {});
  static Tensor ones(const Shape& shape, TensorOptions options = {});
  static Tensor full(const Shape& shape, double value, TensorOptions options = {});
  static Tensor scalar(double value, TensorOptions options = {});
  static Tensor arange(int64_t n, TensorOptions options = {});
  static Tensor rand(const Shape& shape, Generator& gen, TensorOptions options = {});   // U[0, 1)
  static Tensor randn(const Shape& shape, Generator& gen, TensorOptions options = {});  // N(0, 1)
  // Copies host values into a new tensor of T's dtype on `device`; values.size() must equal numel(shape).
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options = {});
  static Tensor empty_like(const Tensor& t);
  static Tensor zeros_like(const Tensor& t);
  static Tensor ones_like(const Tensor& t);

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t storage_offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  size_t itemsize() const { return dtype_size(dtype()); }
  std::string describe() const;  // "float32[2, 3] on cpu"

  // ---- data access
  void* raw_data() const;  // address of element 0 (device memory for CUDA tensors)
  template <class T> T* data() const;  // checks dtype; host tensors only
  template <class T> T item() const;   // the single element, converted; copies from any device
  template <class T> std::vector<T> to_vector() const;  // all elements in row-major order, converted
  double item() const { return item<double>(); }

  // ---- views and copies (see ops.h for the differentiable free-function forms)
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor expand(const Shape& shape) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor detach() const;  // shares storage, no autograd history
  // A contiguous copy in page-locked host memory, so that .to(cuda) returns before the copy ends and the
  // copy overlaps with GPU work. Returns the tensor itself when it is pinned already or no GPU is usable.
  Tensor pin_memory() const;
  bool is_pinned() const;

  // ---- in-place writes (not recorded by autograd; refused on tensors that require grad while grad mode
  // is on, unless they are leaves being updated under NoGradGuard)
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // src broadcast to this shape; converts dtype; may cross devices
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other (other broadcast)
  Tensor& mul_(double value);
  Tensor& uniform_(Generator& gen, double low, double high);
  Tensor& normal_(Generator& gen, double mean, double std);
  // Makes this tensor (and every handle sharing it) refer to `src`'s data, geometry and dtype, keeping its
  // autograd identity (requires_grad, grad). Used to move parameters between devices in place.
  void set_data(const Tensor& src);

  // ---- autograd
  bool requires_grad() const;
  Tensor& set_requires_grad(bool requires_grad);
  const Tensor& grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& grad);
  void zero_grad();  // drops the gradient (PyTorch's set_to_none=True)
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;
  bool is_leaf() const;
  // Backpropagates from this tensor. A non-scalar tensor needs `gradient` of its shape. Saved buffers are
  // freed as soon as each node has run, unless retain_graph is true.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  const std::shared_ptr<Storage>& storage() const;

 private:
  void check_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // leaves only; created on demand
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::Float32;
  std::unique_ptr<AutogradMeta> autograd;

  AutogradMeta& autograd_meta() {
    if (!autograd) autograd = std::make_unique<AutogradMeta>();
    return *autograd;
  }
};

// A new tensor sharing `base`'s storage with different geometry (no autograd history).
Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace dismax
