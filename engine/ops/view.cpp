// Views share storage with their input; their backward maps the gradient back to the input's geometry.
#include <numeric>
#include <optional>

#include "engine/ops/op_support.h"

namespace dismax {

namespace {

Shape infer_shape(const Shape& requested, int64_t numel, const Tensor& x, const char* op) {
  Shape shape = requested;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      DISMAX_CHECK(infer < 0, op, ": only one dimension can be -1 in ", shape_str(requested));
      infer = static_cast<int64_t>(i);
    } else {
      DISMAX_CHECK(shape[i] >= 0, op, ": invalid size in ", shape_str(requested));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    DISMAX_CHECK(known > 0 && numel % known == 0, op, ": shape ", shape_str(requested), " is invalid for input ",
                 x.describe());
    shape[infer] = numel / known;
  }
  DISMAX_CHECK(shape_numel(shape) == numel, op, ": shape ", shape_str(requested), " is invalid for input ",
               x.describe());
  return shape;
}

// Strides that let `shape` view memory laid out as (old_shape, old_strides), if any exist.
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape) {
  if (old_shape.empty()) return Shape(shape.size(), 1);
  if (shape_numel(old_shape) == 0) return contiguous_strides(shape);
  Shape strides(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

Tensor reshape_like_view(const Tensor& x, const Shape& shape, const char* op) {
  Tensor out = x.sizes() == shape ? make_view(x, shape, x.strides(), x.storage_offset()) : Tensor();
  if (!out.defined()) {
    auto strides = view_strides(x.sizes(), x.strides(), shape);
    DISMAX_CHECK(strides.has_value(), op, ": cannot view ", x.describe(), " with strides ", shape_str(x.strides()),
                 " as ", shape_str(shape), "; use reshape (which copies)");
    out = make_view(x, shape, *strides, x.storage_offset());
  }
  record_function(op, {&x}, {&out}, [in_shape = x.sizes()](const auto& g, const Node&) {
    return std::vector<Tensor>{g[0].reshape(in_shape)};
  });
  return out;
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  check_defined("view", x, "input");
  return reshape_like_view(x, infer_shape(shape, x.numel(), x, "view"), "view");
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", x, "input");
  const Shape target = infer_shape(shape, x.numel(), x, "reshape");
  if (view_strides(x.sizes(), x.strides(), target).has_value()) return reshape_like_view(x, target, "reshape");
  return reshape_like_view(contiguous(x), target, "reshape");
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  check_defined("narrow", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  DISMAX_CHECK(start >= 0 && length >= 0 && start + length <= x.size(d), "narrow: range [", start, ", ",
               start + length, ") is outside dim ", d, " of ", x.describe());
  Shape sizes = x.sizes();
  sizes[d] = length;
  Tensor out = make_view(x, sizes, x.strides(), x.storage_offset() + start * x.stride(d));
  record_function("narrow", {&x}, {&out}, [in_shape = x.sizes(), d, start, length](const auto& g, const Node&) {
    Tensor gx = Tensor::zeros(in_shape, options_of(g[0]));
    gx.narrow(d, start, length).copy_(g[0]);
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  check_defined("select", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "select");
  const int64_t i = index < 0 ? index + x.size(d) : index;
  DISMAX_CHECK(i >= 0 && i < x.size(d), "select: index ", index, " is out of range for dim ", d, " of ", x.describe());
  return squeeze(narrow(x, d, i, 1), d);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined("permute", x, "input");
  DISMAX_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: ", dims.size(), " dims given for ",
               x.describe());
  Shape sizes(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    DISMAX_CHECK(inverse[d] < 0, "permute: dim ", dims[i], " repeated");
    inverse[d] = static_cast<int64_t>(i);
    sizes[i] = x.size(d);
    strides[i] = x.stride(d);
  }
  Tensor out = make_view(x, sizes, strides, x.storage_offset());
  record_function("permute", {&x}, {&out}, [inverse](const auto& g, const Node&) {
    return std::vector<Tensor>{g[0].permute(inverse)};
  });
  return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  check_defined("transpose", x, "input");
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim(dim0, x.dim(), "transpose")], dims[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, dims);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  check_defined("unsqueeze", x, "input");
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape sizes = x.sizes();
  sizes.insert(sizes.begin() + d, 1);
  return reshape_like_view(x, sizes, "unsqueeze");
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  check_defined("squeeze", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.size(d) != 1) return x;
  Shape sizes = x.sizes();
  sizes.erase(sizes.begin() + d);
  return reshape_like_view(x, sizes, "squeeze");
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  check_defined("flatten", x, "input");
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  DISMAX_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape sizes;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d <= s || d > e) sizes.push_back(x.size(d));
    else sizes.back() *= x.size(d);
  }
  return reshape(x, sizes);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined("expand", x, "input");
  Shape target = shape;
  const int64_t lead = static_cast<int64_t>(shape.size()) - x.dim();
  DISMAX_CHECK(lead >= 0, "expand: cannot expand ", x.describe(), " to ", shape_str(shape));
  for (int64_t d = 0; d < x.dim(); ++d)
    if (target[lead + d] == -1) target[lead + d] = x.size(d);
  Tensor out = broadcast_view(x.detach(), target);
  if (out.is_same(x)) out = make_view(x, x.sizes(), x.strides(), x.storage_offset());
  record_function("expand", {&x}, {&out}, [in_shape = x.sizes()](const auto& g, const Node&) {
    return std::vector<Tensor>{sum_to(g[0], in_shape)};
  });
  return out;
}

Tensor contiguous(const Tensor& x) {
  check_defined("contiguous", x, "input");
  return x.is_contiguous() ? x : clone(x);
}

Tensor clone(const Tensor& x) {
  check_defined("clone", x, "input");
  Tensor out = Tensor::empty(x.sizes(), options_of(x));
  DISMAX_KERNEL(x.device(), copy)(out, x);
  record_function("clone", {&x}, {&out}, [](const auto& g, const Node&) { return std::vector<Tensor>{g[0]}; });
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  check_defined("to", x, "input");
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.sizes(), TensorOptions(dtype).device(x.device()));
  DISMAX_KERNEL(x.device(), copy)(out, x);
  if (is_floating(dtype)) {
    record_function("to_dtype", {&x}, {&out}, [from = x.dtype()](const auto& g, const Node&) {
      return std::vector<Tensor>{g[0].to(from)};
    });
  }
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  check_defined("to", x, "input");
  if (x.device() == device) return x;
  const Tensor src = x.contiguous().detach();
  Tensor out = Tensor::empty(x.sizes(), TensorOptions(x.dtype()).device(device));
  const Device remote = device.is_cpu() ? x.device() : device;
  DISMAX_KERNEL(remote, copy_between_devices)(out, src);
  record_function("to_device", {&x}, {&out}, [from = x.device()](const auto& g, const Node&) {
    return std::vector<Tensor>{g[0].to(from)};
  });
  return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  DISMAX_CHECK(!tensors.empty(), "cat: needs at least one tensor");
  const Tensor& first = tensors[0];
  check_defined("cat", first, "tensor 0");
  const int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.sizes();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_defined("cat", t, "an input");
    DISMAX_CHECK(t.dim() == first.dim() && t.device() == first.device() && t.dtype() == first.dtype(),
                 "cat: tensor ", i, " (", t.describe(), ") does not match tensor 0 (", first.describe(), ")");
    for (int64_t k = 0; k < t.dim(); ++k)
      DISMAX_CHECK(k == d || t.size(k) == first.size(k), "cat: tensor ", i, " has shape ", shape_str(t.sizes()),
                   ", incompatible with ", shape_str(first.sizes()), " along dim ", d);
    shape[d] += t.size(d);
  }
  Tensor out = Tensor::empty(shape, options_of(first));
  std::vector<int64_t> lengths;
  bool needs_grad = false;
  {
    NoGradGuard guard;
    int64_t offset = 0;
    for (const Tensor& t : tensors) {
      Tensor slot = out.narrow(d, offset, t.size(d));
      DISMAX_KERNEL(out.device(), copy)(slot, t);
      offset += t.size(d);
      lengths.push_back(t.size(d));
      needs_grad |= t.requires_grad();
    }
  }
  if (needs_grad && grad_mode_enabled()) {
    auto node = std::make_shared<FunctionNode>("cat", [d, lengths](const std::vector<Tensor>& g, const Node&) {
      std::vector<Tensor> grads;
      int64_t offset = 0;
      for (int64_t len : lengths) {
        grads.push_back(g[0].narrow(d, offset, len).contiguous());
        offset += len;
      }
      return grads;
    });
    std::vector<const Tensor*> inputs;
    for (const Tensor& t : tensors) inputs.push_back(&t);
    record(node, inputs, {&out});
  }
  return out;
}

}  // namespace dismax
