#include "layers/basic.h"

#include <sstream>

#include "engine/ops.h"

namespace dismax {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

MaxPool2d::MaxPool2d(int64_t k, int64_t s, int64_t p) : kernel_size(k), stride(s), padding(p) {}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_size, stride, padding); }
std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + std::to_string(kernel_size) + ", stride=" + std::to_string(stride) +
         ", padding=" + std::to_string(padding);
}

AvgPool2d::AvgPool2d(int64_t k, int64_t s, int64_t p, bool count_pad)
    : kernel_size(k), stride(s), padding(p), count_include_pad(count_pad) {}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel_size, stride, padding, count_include_pad); }
std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + std::to_string(kernel_size) + ", stride=" + std::to_string(stride) +
         ", padding=" + std::to_string(padding);
}

Tensor GlobalAvgPool2d::forward(const Tensor& x) { return global_avg_pool2d(x); }

Tensor Flatten::forward(const Tensor& x) { return x.dim() <= 1 ? x : x.flatten(1); }

Dropout::Dropout(double prob, Generator& gen) : p(prob), gen_(gen.next_u64()) {
  DISMAX_CHECK(prob >= 0.0 && prob <= 1.0, "Dropout: probability ", prob, " is outside [0, 1]");
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }
std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

}  // namespace dismax
