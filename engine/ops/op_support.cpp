#include "engine/ops/op_support.h"

namespace dismax {

void check_defined(const char* op, const Tensor& t, const char* what) {
  DISMAX_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_rank(const char* op, const Tensor& t, int64_t rank, const char* what) {
  check_defined(op, t, what);
  DISMAX_CHECK(t.dim() == rank, op, ": ", what, " must have ", rank, " dimensions, got ", t.describe());
}

void check_float_operands(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (t == nullptr || !t->defined()) continue;
    DISMAX_CHECK(is_floating(t->dtype()), op, ": expected a floating tensor, got ", t->describe());
    if (first == nullptr) {
      first = t;
      continue;
    }
    DISMAX_CHECK(t->device() == first->device(), op, ": tensors on different devices: ", first->describe(), " and ",
                 t->describe());
    DISMAX_CHECK(t->dtype() == first->dtype(), op, ": mixed dtypes: ", first->describe(), " and ", t->describe());
  }
}

Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  if (t.sizes() == shape) return t;
  const int64_t lead = static_cast<int64_t>(shape.size()) - t.dim();
  DISMAX_CHECK(lead >= 0, "broadcast: cannot broadcast ", shape_str(t.sizes()), " to ", shape_str(shape));
  Shape strides(shape.size(), 0);
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t size = t.size(d);
    DISMAX_CHECK(size == shape[lead + d] || size == 1, "broadcast: cannot broadcast ", shape_str(t.sizes()), " to ",
                 shape_str(shape));
    strides[lead + d] = size == 1 ? 0 : t.stride(d);
  }
  return make_view(t, shape, strides, t.storage_offset());
}

}  // namespace dismax
