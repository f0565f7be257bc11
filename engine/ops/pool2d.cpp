#include "engine/ops/op_support.h"

namespace dismax {

namespace {
Pool2dArgs pool_args(const char* op, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  check_rank(op, x, 4, "input");
  check_float_operands(op, {&x});
  DISMAX_CHECK(kernel >= 1 && stride >= 1 && padding >= 0, op, ": kernel ", kernel, ", stride ", stride,
               ", padding ", padding, " must be >= 1, >= 1, >= 0");
  DISMAX_CHECK(2 * padding <= kernel, op, ": padding ", padding, " must be at most half the kernel ", kernel);
  DISMAX_CHECK(x.size(2) + 2 * padding >= kernel && x.size(3) + 2 * padding >= kernel, op, ": kernel ", kernel,
               " is larger than the padded input ", shape_str(x.sizes()));
  return Pool2dArgs{kernel, kernel, stride, stride, padding, padding, true};
}
Shape pool_output(const Tensor& x, const Pool2dArgs& a) {
  return {x.size(0), x.size(1), (x.size(2) + 2 * a.pad_h - a.kernel_h) / a.stride_h + 1,
          (x.size(3) + 2 * a.pad_w - a.kernel_w) / a.stride_w + 1};
}
}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  const Pool2dArgs args = pool_args("max_pool2d", x, kernel, stride, padding);
  const Shape shape = pool_output(x, args);
  Tensor y = Tensor::empty(shape, options_of(x));
  Tensor indices = Tensor::empty(shape, TensorOptions(DType::Int64).device(x.device()));
  DISMAX_KERNEL(x.device(), max_pool2d_forward)(x.contiguous().detach(), args, y, indices);
  record_function("max_pool2d", {&x}, {&y}, [indices, args, in_shape = x.sizes()](const auto& g, const Node&) {
    Tensor gx = Tensor::empty(in_shape, options_of(g[0]));
    DISMAX_KERNEL(gx.device(), max_pool2d_backward)(g[0], indices, args, gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool count_include_pad) {
  Pool2dArgs args = pool_args("avg_pool2d", x, kernel, stride, padding);
  args.count_include_pad = count_include_pad;
  Tensor y = Tensor::empty(pool_output(x, args), options_of(x));
  DISMAX_KERNEL(x.device(), avg_pool2d_forward)(x.contiguous().detach(), args, y);
  record_function("avg_pool2d", {&x}, {&y}, [args, in_shape = x.sizes()](const auto& g, const Node&) {
    Tensor gx = Tensor::empty(in_shape, options_of(g[0]));
    DISMAX_KERNEL(gx.device(), avg_pool2d_backward)(g[0], args, gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor global_avg_pool2d(const Tensor& x) {
  check_rank("global_avg_pool2d", x, 4, "input");
  return mean(x, {2, 3});
}

}  // namespace dismax
