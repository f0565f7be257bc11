#include "layers/batch_norm.h"

#include "engine/grad_mode.h"
#include "engine/ops.h"

#include <sstream>

namespace dismax {

BatchNorm2d::BatchNorm2d(int64_t c, double m, double e) : num_features(c), momentum(m), eps(e) {
  DISMAX_CHECK(c > 0 && m >= 0.0 && m <= 1.0 && e > 0.0, "BatchNorm2d(", c, ", momentum ", m, ", eps ", e,
               "): invalid configuration");
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::Int64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (is_training()) ++pending_batches_;
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

Tensor BatchNorm2d::forward_add_relu(const Tensor& x, const Tensor& residual, bool relu) {
  if (is_training()) ++pending_batches_;
  return batch_norm_add_relu(x, weight, bias, running_mean, running_var, is_training(), momentum, eps, residual, relu);
}

void BatchNorm2d::sync_buffers() const {
  if (pending_batches_ == 0) return;
  NoGradGuard guard;
  Tensor counter = num_batches_tracked;
  counter.add_(Tensor::full({}, static_cast<double>(pending_batches_), TensorOptions(DType::Int64))
                   .to(counter.device()));
  pending_batches_ = 0;
}

int64_t BatchNorm2d::batches_tracked() const {
  sync_buffers();
  return num_batches_tracked.item<int64_t>();
}

std::string BatchNorm2d::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << eps << ", momentum=" << momentum;
  return os.str();
}

}  // namespace dismax
