#include <limits>

#include "engine/ops/op_support.h"

namespace dismax {

namespace {

Tensor binary_kernel(BinaryOp op, const char* name, const Tensor& a, const Tensor& b, double alpha = 1.0) {
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  check_float_operands(name, {&a, &b});
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor out = Tensor::empty(shape, options_of(a));
  DISMAX_KERNEL(a.device(), binary)(op, broadcast_view(a, shape), broadcast_view(b, shape), out, alpha);
  return out;
}

Tensor unary_kernel(UnaryOp op, const char* name, const Tensor& x, double alpha = 0.0, double beta = 0.0) {
  check_defined(name, x, "input");
  check_float_operands(name, {&x});
  const Tensor in = x.is_contiguous() ? x : x.detach().contiguous();
  Tensor out = Tensor::empty(x.sizes(), options_of(x));
  DISMAX_KERNEL(x.device(), unary)(op, in, out, alpha, beta);
  return out;
}

}  // namespace

// ---- binary

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = binary_kernel(BinaryOp::Add, "add", a, b, alpha);
  record_function("add", {&a, &b}, {&out}, [sa = a.sizes(), sb = b.sizes(), alpha](const auto& g, const Node& self) {
    return std::vector<Tensor>{self.needs_input_grad(0) ? sum_to(g[0], sa) : Tensor(),
                               self.needs_input_grad(1) ? sum_to(alpha == 1.0 ? g[0] : g[0] * alpha, sb) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Sub, "sub", a, b);
  record_function("sub", {&a, &b}, {&out}, [sa = a.sizes(), sb = b.sizes()](const auto& g, const Node& self) {
    return std::vector<Tensor>{self.needs_input_grad(0) ? sum_to(g[0], sa) : Tensor(),
                               self.needs_input_grad(1) ? sum_to(neg(g[0]), sb) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Mul, "mul", a, b);
  record_if_needed("mul", {&a, &b}, {&out}, [&] {
    return [sa = SavedTensor(b.requires_grad() ? a : Tensor()), sb = SavedTensor(a.requires_grad() ? b : Tensor()),
            shape_a = a.sizes(), shape_b = b.sizes()](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{
          self.needs_input_grad(0) ? sum_to(mul(g[0], sb.unpack(self)), shape_a) : Tensor(),
          self.needs_input_grad(1) ? sum_to(mul(g[0], sa.unpack(self)), shape_b) : Tensor()};
    };
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Div, "div", a, b);
  record_if_needed("div", {&a, &b}, {&out}, [&] {
    return [sa = SavedTensor(b.requires_grad() ? a : Tensor()), sb = SavedTensor(b), shape_a = a.sizes(),
            shape_b = b.sizes()](const std::vector<Tensor>& g, const Node& self) {
      const Tensor& bv = sb.unpack(self);
      Tensor ga, gb;
      if (self.needs_input_grad(0)) ga = sum_to(div(g[0], bv), shape_a);
      if (self.needs_input_grad(1)) gb = sum_to(neg(div(mul(g[0], sa.unpack(self)), square(bv))), shape_b);
      return std::vector<Tensor>{ga, gb};
    };
  });
  return out;
}

namespace {
// max/min: the gradient goes to the selected operand, split in half on ties (PyTorch's rule).
Tensor extremum(bool is_max, const Tensor& a, const Tensor& b) {
  const char* name = is_max ? "maximum" : "minimum";
  Tensor out = binary_kernel(is_max ? BinaryOp::Maximum : BinaryOp::Minimum, name, a, b);
  record_if_needed(name, {&a, &b}, {&out}, [&] {
    return [is_max, sa = SavedTensor(a), sb = SavedTensor(b), shape_a = a.sizes(), shape_b = b.sizes()](
               const std::vector<Tensor>& g, const Node& self) {
      const Tensor &av = sa.unpack(self), &bv = sb.unpack(self);
      const Tensor half_ties = eq(av, bv) * 0.5;
      const Tensor a_wins = is_max ? binary_kernel(BinaryOp::GeMask, "maximum", av, bv)
                                   : binary_kernel(BinaryOp::GeMask, "minimum", bv, av);
      const Tensor to_a = sub(a_wins, half_ties);
      return std::vector<Tensor>{self.needs_input_grad(0) ? sum_to(mul(g[0], to_a), shape_a) : Tensor(),
                                 self.needs_input_grad(1) ? sum_to(mul(g[0], 1.0 - to_a), shape_b) : Tensor()};
    };
  });
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(true, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(false, a, b); }

Tensor eq(const Tensor& a, const Tensor& b) { return binary_kernel(BinaryOp::Eq, "eq", a, b); }
Tensor gt(const Tensor& x, double value) { return unary_kernel(UnaryOp::Gt, "gt", x, value); }
Tensor sign(const Tensor& x) { return unary_kernel(UnaryOp::Sign, "sign", x); }

// ---- unary

Tensor affine(const Tensor& x, double scale, double shift) {
  Tensor out = unary_kernel(UnaryOp::Affine, "affine", x, scale, shift);
  record_function("affine", {&x}, {&out}, [scale](const auto& g, const Node&) {
    return std::vector<Tensor>{scale == 1.0 ? g[0] : affine(g[0], scale, 0.0)};
  });
  return out;
}

Tensor neg(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Neg, "neg", x);
  record_function("neg", {&x}, {&out}, [](const auto& g, const Node&) { return std::vector<Tensor>{neg(g[0])}; });
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Abs, "abs", x);
  record_if_needed("abs", {&x}, {&out}, [&] {
    return [sx = SavedTensor(x)](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{binary_kernel(BinaryOp::SignMul, "abs_backward", g[0], sx.unpack(self))};
    };
  });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Exp, "exp", x);
  record_if_needed("exp", {&x}, {&out}, [&] {
    return [sy = SavedTensor(out)](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{mul(g[0], sy.unpack(self))};
    };
  });
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Log, "log", x);
  record_if_needed("log", {&x}, {&out}, [&] {
    return [sx = SavedTensor(x)](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{div(g[0], sx.unpack(self))};
    };
  });
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Sqrt, "sqrt", x);
  record_if_needed("sqrt", {&x}, {&out}, [&] {
    return [sy = SavedTensor(out)](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{div(g[0], sy.unpack(self) * 2.0)};
    };
  });
  return out;
}

Tensor square(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Square, "square", x);
  record_if_needed("square", {&x}, {&out}, [&] {
    return [sx = SavedTensor(x)](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{mul(g[0], sx.unpack(self) * 2.0)};
    };
  });
  return out;
}

Tensor pow(const Tensor& x, double exponent) {
  Tensor out = unary_kernel(UnaryOp::Pow, "pow", x, exponent);
  record_if_needed("pow", {&x}, {&out}, [&] {
    return [sx = SavedTensor(x), exponent](const std::vector<Tensor>& g, const Node& self) {
      if (exponent == 0.0) return std::vector<Tensor>{Tensor::zeros_like(g[0])};
      const Tensor d = unary_kernel(UnaryOp::Pow, "pow_backward", sx.unpack(self), exponent - 1.0) * exponent;
      return std::vector<Tensor>{mul(g[0], d)};
    };
  });
  return out;
}

Tensor clamp(const Tensor& x, double min, double max) {
  DISMAX_CHECK(!(min > max), "clamp: min ", min, " is greater than max ", max);
  Tensor out = unary_kernel(UnaryOp::Clamp, "clamp", x, min, max);
  record_if_needed("clamp", {&x}, {&out}, [&] {
    return [sx = SavedTensor(x), min, max](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{mul(g[0], unary_kernel(UnaryOp::InRange, "clamp_backward", sx.unpack(self), min, max))};
    };
  });
  return out;
}

Tensor clamp_min(const Tensor& x, double min) { return clamp(x, min, std::numeric_limits<double>::infinity()); }
Tensor clamp_max(const Tensor& x, double max) { return clamp(x, -std::numeric_limits<double>::infinity(), max); }

Tensor relu(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Relu, "relu", x);
  record_if_needed("relu", {&x}, {&out}, [&] {
    return [sy = SavedTensor(out)](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{binary_kernel(BinaryOp::ReluBackward, "relu_backward", g[0], sy.unpack(self))};
    };
  });
  return out;
}

// ---- operators

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return affine(a, 1.0, b); }
Tensor operator+(double a, const Tensor& b) { return affine(b, 1.0, a); }
Tensor operator-(const Tensor& a, double b) { return affine(a, 1.0, -b); }
Tensor operator-(double a, const Tensor& b) { return affine(b, -1.0, a); }
Tensor operator*(const Tensor& a, double b) { return affine(a, b, 0.0); }
Tensor operator*(double a, const Tensor& b) { return affine(b, a, 0.0); }
Tensor operator/(const Tensor& a, double b) { return affine(a, 1.0 / b, 0.0); }
Tensor operator/(double a, const Tensor& b) {
  Tensor r = unary_kernel(UnaryOp::Reciprocal, "reciprocal", b);
  record_if_needed("reciprocal", {&b}, {&r}, [&] {
    return [sy = SavedTensor(r)](const std::vector<Tensor>& g, const Node& self) {
      return std::vector<Tensor>{neg(mul(g[0], square(sy.unpack(self))))};
    };
  });
  return a == 1.0 ? r : r * a;
}

}  // namespace dismax
