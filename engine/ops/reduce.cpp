#include <algorithm>

#include "engine/ops/op_support.h"

namespace dismax {

namespace {

std::vector<bool> reduced_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<bool> mask(static_cast<size_t>(x.dim()), false);
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, x.dim(), op);
    DISMAX_CHECK(!mask[w], op, ": dim ", d, " appears twice");
    mask[w] = true;
  }
  return mask;
}

Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!mask[d]) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Reduces the masked dims of contiguous x; runs of adjacent reduced dims are merged into one kernel call.
Tensor reduce_kernel(ReduceOp op, const Tensor& x, const std::vector<bool>& mask) {
  Shape merged;
  std::vector<bool> merged_mask;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!merged.empty() && merged_mask.back() == mask[d]) {
      merged.back() *= x.size(d);
    } else {
      merged.push_back(x.size(d));
      merged_mask.push_back(mask[d]);
    }
  }
  Tensor cur = x.contiguous().view(merged);
  for (int64_t d = static_cast<int64_t>(merged.size()) - 1; d >= 0; --d) {
    if (!merged_mask[d]) continue;
    Shape out_shape = cur.sizes();
    out_shape[d] = 1;
    Tensor out = Tensor::empty(out_shape, options_of(x));
    DISMAX_KERNEL(x.device(), reduce)(op, cur, d, out);
    cur = out;
  }
  return cur;
}

std::vector<int64_t> all_dims(const Tensor& x) {
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  for (int64_t d = 0; d < x.dim(); ++d) dims[d] = d;
  return dims;
}

Tensor sum_or_mean(bool mean_op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const char* name = mean_op ? "mean" : "sum";
  check_defined(name, x, "input");
  check_float_operands(name, {&x});
  const auto mask = reduced_mask(x, dims, name);
  int64_t count = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) count *= x.size(d);
  Tensor out;
  {
    NoGradGuard guard;
    out = reduce_kernel(mean_op ? ReduceOp::Mean : ReduceOp::Sum, x.detach(), mask)
              .view(reduced_shape(x.sizes(), mask, keepdim));
    out = out.detach();
  }
  record_function(name, {&x}, {&out},
                  [shape = x.sizes(), kept = reduced_shape(x.sizes(), mask, true), mean_op, count](const auto& g,
                                                                                                  const Node&) {
                    Tensor grad = g[0].reshape(kept);
                    if (mean_op) grad = grad * (1.0 / static_cast<double>(count));
                    return std::vector<Tensor>{expand(grad, shape)};
                  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x) { return sum_or_mean(false, x, all_dims(x), false); }
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return sum_or_mean(false, x, dims, keepdim); }
Tensor mean(const Tensor& x) { return sum_or_mean(true, x, all_dims(x), false); }
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return sum_or_mean(true, x, dims, keepdim); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.sizes() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  DISMAX_CHECK(lead >= 0, "sum_to: cannot reduce ", shape_str(x.sizes()), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] == 1 && x.size(d) != 1) {
      dims.push_back(d);
    } else {
      DISMAX_CHECK(shape[d - lead] == x.size(d), "sum_to: cannot reduce ", shape_str(x.sizes()), " to ", shape_str(shape));
    }
  }
  return sum(x, dims, true).reshape(shape);
}

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  check_defined("max", x, "input");
  check_float_operands("max", {&x});
  DISMAX_CHECK(x.dim() > 0, "max: needs at least one dimension, got ", x.describe());
  const int64_t d = wrap_dim(dim, x.dim(), "max");
  Shape kept = x.sizes();
  kept[d] = 1;
  Tensor values = Tensor::empty(kept, options_of(x));
  Tensor indices = Tensor::empty(kept, TensorOptions(DType::Int64).device(x.device()));
  DISMAX_KERNEL(x.device(), max_dim)(x.contiguous().detach(), d, values, indices);
  if (!keepdim) {
    values = values.squeeze(d);
    indices = indices.squeeze(d);
  }
  record_function("max", {&x}, {&values}, [shape = x.sizes(), kept, d, idx = indices](const auto& g, const Node&) {
    // Scatter into the selected position: one-hot of the indices along `dim`.
    const int64_t n = shape[d];
    Tensor flat = idx.reshape({-1});
    Tensor hot = one_hot(flat, n, g[0].dtype());  // (M, n)
    Shape moved = kept;  // kept shape with the reduced dim moved last, then expanded to n
    moved.erase(moved.begin() + d);
    moved.push_back(n);
    std::vector<int64_t> inverse(shape.size());  // undoes "move dim d to the end"
    for (int64_t i = 0, j = 0; i < static_cast<int64_t>(shape.size()); ++i)
      inverse[i] = i == d ? static_cast<int64_t>(shape.size()) - 1 : j++;
    Tensor mask = hot.reshape(moved).permute(inverse);
    return std::vector<Tensor>{mul(mask, g[0].reshape(kept))};
  });
  return {values, indices};
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard guard;
  return max(x, dim, keepdim).second;
}

}  // namespace dismax
