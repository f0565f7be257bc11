#include "engine/ops/op_support.h"

namespace dismax {

namespace {
// Throws naming `op` unless `index` is a 1-D int64 tensor whose values lie in [0, bound).
void check_indices(const char* op, const Tensor& index, int64_t bound, const char* what) {
  check_defined(op, index, what);
  DISMAX_CHECK(index.dtype() == DType::Int64, op, ": ", what, " must be int64, got ", index.describe());
  const auto values = index.to_vector<int64_t>();
  for (size_t i = 0; i < values.size(); ++i)
    DISMAX_CHECK(values[i] >= 0 && values[i] < bound, op, ": ", what, "[", i, "] = ", values[i],
                 " is out of range [0, ", bound, ")");
}
}  // namespace

namespace {
// index_select once the indices are known to be valid and on x's device.
Tensor index_select_checked(const Tensor& x, int64_t d, const Tensor& index) {
  Shape shape = x.sizes();
  shape[d] = index.numel();
  Tensor out = Tensor::empty(shape, options_of(x));
  DISMAX_KERNEL(x.device(), index_select)(x.contiguous().detach(), d, index.contiguous(), out);
  record_function("index_select", {&x}, {&out}, [in_shape = x.sizes(), d, index](const auto& g, const Node&) {
    Tensor gx = Tensor::zeros(in_shape, options_of(g[0]));
    DISMAX_KERNEL(gx.device(), index_add)(gx, d, index.contiguous(), g[0]);
    return std::vector<Tensor>{gx};
  });
  return out;
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined("index_select", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  DISMAX_CHECK(index.defined() && index.dim() == 1, "index_select: index must be 1-D, got ", index.describe());
  DISMAX_CHECK(index.device() == x.device(), "index_select: index ", index.describe(), " and input ", x.describe(),
               " are on different devices");
  check_indices("index_select", index, x.size(d), "index");
  return index_select_checked(x, d, index);
}

Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& index) {
  check_defined("index_select", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  for (size_t i = 0; i < index.size(); ++i)
    DISMAX_CHECK(index[i] >= 0 && index[i] < x.size(d), "index_select: index[", i, "] = ", index[i],
                 " is out of range [0, ", x.size(d), ")");
  return index_select_checked(x, d, Tensor::from_vector(index, {static_cast<int64_t>(index.size())}, x.device()));
}

Tensor roll(const Tensor& x, int64_t shift, int64_t dim, int64_t start, int64_t length) {
  check_defined("roll", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "roll");
  DISMAX_CHECK(start >= 0 && length >= 0 && start + length <= x.size(d), "roll: range [", start, ", ", start + length,
               ") is outside dim ", d, " of ", x.describe());
  if (length == 0) return x;
  std::vector<int64_t> order(static_cast<size_t>(x.size(d)));
  for (int64_t i = 0; i < x.size(d); ++i) order[i] = i;
  const int64_t s = ((shift % length) + length) % length;
  for (int64_t m = 0; m < length; ++m) order[start + m] = start + (m - s + length) % length;
  return index_select(x, d, order);
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  check_defined("one_hot", labels, "labels");
  DISMAX_CHECK(num_classes >= 1, "one_hot: num_classes must be >= 1, got ", num_classes);
  DISMAX_CHECK(is_floating(dtype), "one_hot: dtype must be floating, got ", dtype_name(dtype));
  Tensor flat = labels.contiguous().reshape({-1});
  check_indices("one_hot", flat, num_classes, "labels");
  Shape shape = labels.sizes();
  shape.push_back(num_classes);
  Tensor out = Tensor::empty({flat.numel(), num_classes}, TensorOptions(dtype).device(labels.device()));
  DISMAX_KERNEL(labels.device(), one_hot)(flat, out);
  return out.view(shape);
}

}  // namespace dismax
