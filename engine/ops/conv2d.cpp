#include "engine/ops/op_support.h"

namespace dismax {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options) {
  check_rank("conv2d", x, 4, "input");
  check_rank("conv2d", weight, 4, "weight");
  check_float_operands("conv2d", {&x, &weight, &bias});
  DISMAX_CHECK(options.stride >= 1 && options.padding >= 0, "conv2d: stride ", options.stride, " and padding ",
               options.padding, " must be >= 1 and >= 0");
  DISMAX_CHECK(x.size(1) == weight.size(1), "conv2d: input ", shape_str(x.sizes()), " has ", x.size(1),
               " channels but weight ", shape_str(weight.sizes()), " expects ", weight.size(1));
  if (bias.defined())
    DISMAX_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "conv2d: bias ", shape_str(bias.sizes()),
                 " does not match ", weight.size(0), " output channels");
  const int64_t P = (x.size(2) + 2 * options.padding - weight.size(2)) / options.stride + 1;
  const int64_t Q = (x.size(3) + 2 * options.padding - weight.size(3)) / options.stride + 1;
  DISMAX_CHECK(x.size(2) + 2 * options.padding >= weight.size(2) && x.size(3) + 2 * options.padding >= weight.size(3),
               "conv2d: kernel ", shape_str(weight.sizes()), " is larger than the padded input ", shape_str(x.sizes()));
  const Conv2dArgs args{options.stride, options.stride, options.padding, options.padding};
  const Tensor xc = x.contiguous().detach(), wc = weight.contiguous().detach();
  const Tensor bc = bias.defined() ? bias.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty({x.size(0), weight.size(0), P, Q}, options_of(x));
  DISMAX_KERNEL(x.device(), conv2d_forward)(xc, wc, bc, args, y);
  record_if_needed("conv2d", {&x, &weight, &bias}, {&y}, [&] {
    return [sx = SavedTensor(xc), sw = SavedTensor(wc), args](const std::vector<Tensor>& g, const Node& self) {
      const Tensor &xv = sx.unpack(self), &wv = sw.unpack(self);
      Tensor gx = self.needs_input_grad(0) ? Tensor::empty_like(xv) : Tensor();
      Tensor gw = self.needs_input_grad(1) ? Tensor::empty_like(wv) : Tensor();
      Tensor gb = self.needs_input_grad(2) ? Tensor::empty({wv.size(0)}, options_of(wv)) : Tensor();
      DISMAX_KERNEL(xv.device(), conv2d_backward)(g[0], xv, wv, args, gx, gw, gb);
      return std::vector<Tensor>{gx, gw, gb};
    };
  });
  return y;
}

}  // namespace dismax
