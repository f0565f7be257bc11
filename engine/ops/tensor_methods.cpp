// Tensor's methods that compute: creation with values, host reads, views and conversions, in-place writes,
// pinning, backward and printing. Each forwards to the kernel seam, an op or the autograd engine; the
// handle itself (storage, geometry, autograd fields) is engine/tensor.cpp.
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>

#include "engine/autograd/node.h"
#include "engine/generator.h"
#include "engine/kernels.h"
#include "engine/ops.h"

namespace dismax {

// ---- creation with values

Tensor Tensor::full(const Shape& shape, double value, TensorOptions options) {
  Tensor t = empty(shape, options.requires_grad(false));
  DISMAX_KERNEL(t.device(), fill)(t, value);
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor Tensor::ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor Tensor::scalar(double value, TensorOptions options) { return full({}, value, options); }

Tensor Tensor::arange(int64_t n, TensorOptions options) {
  std::vector<double> values(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<double>(i);
  return from_vector(values, {n}, DType::Float64).to(options.dtype()).to(options.device());
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, TensorOptions options) {
  Tensor t = empty(shape, options.requires_grad(false));
  DISMAX_KERNEL(t.device(), uniform)(t, gen, 0.0, 1.0);
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, TensorOptions options) {
  Tensor t = empty(shape, options.requires_grad(false));
  DISMAX_KERNEL(t.device(), normal)(t, gen, 0.0, 1.0);
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  DISMAX_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
               " values do not fill shape ", shape_str(shape));
  Tensor host = empty(shape, dtype_of<T>);
  if (!values.empty()) std::memcpy(host.raw_data(), values.data(), values.size() * sizeof(T));
  Tensor t = options.device().is_cpu() ? host : host.to(options.device());
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor Tensor::from_vector(const std::vector<uint8_t>&, const Shape&, TensorOptions);

Tensor Tensor::empty_like(const Tensor& t) { return empty(t.sizes(), TensorOptions(t.dtype()).device(t.device())); }
Tensor Tensor::zeros_like(const Tensor& t) { return zeros(t.sizes(), TensorOptions(t.dtype()).device(t.device())); }
Tensor Tensor::ones_like(const Tensor& t) { return ones(t.sizes(), TensorOptions(t.dtype()).device(t.device())); }

// ---- host reads

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? *this : to(Device::cpu());
  host = host.to(dtype_of<T>).contiguous();
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<uint8_t> Tensor::to_vector() const;

template <class T>
T Tensor::item() const {
  DISMAX_CHECK(numel() == 1, "item: expected one element, got ", describe());
  return to_vector<T>()[0];
}
// "item<T>" spelled out: clang reads a plain "item()" as the non-template double overload.
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;

// ---- views and copies

Tensor Tensor::view(const Shape& shape) const { return dismax::view(*this, shape); }
Tensor Tensor::reshape(const Shape& shape) const { return dismax::reshape(*this, shape); }
Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const { return dismax::narrow(*this, d, start, length); }
Tensor Tensor::select(int64_t d, int64_t index) const { return dismax::select(*this, d, index); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return dismax::transpose(*this, d0, d1); }
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return dismax::permute(*this, dims); }
Tensor Tensor::unsqueeze(int64_t d) const { return dismax::unsqueeze(*this, d); }
Tensor Tensor::squeeze(int64_t d) const { return dismax::squeeze(*this, d); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return dismax::flatten(*this, s, e); }
Tensor Tensor::expand(const Shape& shape) const { return dismax::expand(*this, shape); }
Tensor Tensor::contiguous() const { return dismax::contiguous(*this); }
Tensor Tensor::clone() const { return dismax::clone(*this); }
Tensor Tensor::to(Device d) const { return dismax::to_device(*this, d); }
Tensor Tensor::to(DType d) const { return dismax::to_dtype(*this, d); }

Tensor Tensor::pin_memory() const {
  check_defined("pin_memory");
  DISMAX_CHECK(device().is_cpu(), "pin_memory: ", describe(), " is not a host tensor");
  if (is_pinned() || !backend_available(DeviceType::CUDA)) return *this;
  Allocator* pinned = backend_for(Device::cuda(0)).pinned_host_allocator;
  if (pinned == nullptr) return *this;
  const Tensor src = contiguous();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(src.numel()) * src.itemsize(), *pinned);
  impl->sizes = src.sizes();
  impl->strides = contiguous_strides(src.sizes());
  impl->dtype = src.dtype();
  if (src.numel() > 0) std::memcpy(impl->storage->data(), src.raw_data(), static_cast<size_t>(src.numel()) * src.itemsize());
  return Tensor(std::move(impl));
}

// ---- in-place writes

namespace {
void check_inplace(const Tensor& t, const char* op) {
  DISMAX_CHECK(t.defined(), op, ": the tensor is undefined");
  DISMAX_CHECK(!(grad_mode_enabled() && t.requires_grad()), op, ": in-place write to ", t.describe(),
               " which requires grad; use the out-of-place op, or NoGradGuard for parameter updates");
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  DISMAX_KERNEL(device(), fill)(*this, value);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  DISMAX_CHECK(src.defined(), "copy_: the source tensor is undefined");
  Tensor source = src.detach();
  if (source.device() != device()) {
    source = source.contiguous();
    if (source.dtype() != dtype()) source = source.to(dtype());
    Tensor staged = Tensor::empty(source.sizes(), TensorOptions(dtype()).device(device()));
    const Device remote = device().is_cpu() ? source.device() : device();
    DISMAX_KERNEL(remote, copy_between_devices)(staged, source);
    source = staged;
  }
  if (source.sizes() != sizes()) source = dismax::expand(source, sizes());
  DISMAX_KERNEL(device(), copy)(*this, source);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  DISMAX_CHECK(other.device() == device(), "add_: ", describe(), " and ", other.describe(),
               " are on different devices");
  Tensor b = other.detach();
  if (b.dtype() != dtype()) b = b.to(dtype());
  if (b.sizes() != sizes()) b = dismax::expand(b, sizes());
  if (is_contiguous()) {
    Tensor self = detach();
    DISMAX_KERNEL(device(), binary)(BinaryOp::Add, self, b, self, alpha);
  } else {
    NoGradGuard guard;
    copy_(dismax::add(detach(), b, alpha));
  }
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  Tensor self = detach();
  if (is_contiguous()) {
    DISMAX_KERNEL(device(), unary)(UnaryOp::Affine, self, self, value, 0.0);
  } else {
    NoGradGuard guard;
    copy_(dismax::affine(self, value, 0.0));
  }
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::uniform_(Generator& gen, double low, double high) {
  check_inplace(*this, "uniform_");
  DISMAX_CHECK(is_contiguous(), "uniform_: needs a contiguous tensor, got strides ", shape_str(strides()));
  DISMAX_KERNEL(device(), uniform)(*this, gen, low, high);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::normal_(Generator& gen, double mean, double std) {
  check_inplace(*this, "normal_");
  DISMAX_CHECK(is_contiguous(), "normal_: needs a contiguous tensor, got strides ", shape_str(strides()));
  DISMAX_KERNEL(device(), normal)(*this, gen, mean, std);
  storage()->bump_version();
  return *this;
}

// ---- autograd

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  check_defined("backward");
  DISMAX_CHECK(requires_grad(), "backward: ", describe(), " does not require grad and has no grad_fn");
  Tensor seed = gradient;
  if (!seed.defined()) {
    DISMAX_CHECK(numel() == 1, "backward: a gradient is needed for non-scalar output ", describe());
    seed = Tensor::ones(sizes(), TensorOptions(dtype()).device(device()));
  }
  DISMAX_CHECK(seed.sizes() == sizes(), "backward: gradient ", seed.describe(), " does not match output ", describe());
  run_backward({*this}, {seed}, retain_graph);
}

// ---- printing

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(" << t.describe();
  if (t.requires_grad()) os << ", requires_grad";
  os << ")";
  if (t.numel() <= 64 && t.dtype() != DType::Float16 && t.dtype() != DType::BFloat16) {
    const auto values = t.to_vector<double>();
    os << " {";
    for (size_t i = 0; i < values.size(); ++i) os << (i ? ", " : "") << std::setprecision(6) << values[i];
    os << "}";
  }
  return os;
}

}  // namespace dismax
