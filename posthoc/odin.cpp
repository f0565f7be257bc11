#include "posthoc/odin.h"

#include "engine/error.h"
#include "engine/grad_mode.h"
#include "engine/ops.h"

namespace dismax {

Tensor odin_scores(Module& model, const Tensor& images, const std::vector<float>& channel_std, double temperature,
                   double noise) {
  DISMAX_CHECK(temperature > 0, "--odin-temperature must be > 0, got ", temperature);
  DISMAX_CHECK(noise >= 0, "--odin-noise must be >= 0, got ", noise);
  DISMAX_CHECK(images.dim() == 4 && images.size(1) == static_cast<int64_t>(channel_std.size()),
               "odin: images ", images.describe(), " do not have one channel per normalisation std (",
               channel_std.size(), ")");
  Tensor x = images.detach();  // a leaf of its own over the same storage, which nothing writes
  Tensor perturbed;
  {
    EnableGradGuard grad;
    x.set_requires_grad(true);
    const Tensor logits = model.forward(x);
    const Tensor prediction = argmax(logits.detach(), 1);
    const Tensor log_p = log_softmax(affine(logits, 1.0 / temperature, 0.0), 1);
    const Tensor target = one_hot(prediction.to(Device::cpu()), logits.size(1), log_p.dtype()).to(log_p.device());
    neg(sum(mul(log_p, target))).backward();  // per-sample gradients: the model is in eval mode
    NoGradGuard no_grad;
    // +1 where the gradient is >= 0, -1 where it is < 0 (OpenOOD's (ge(grad, 0) - 0.5) * 2), over each
    // channel's std.
    const Tensor sign = affine(gt(neg(x.grad()), 0.0), -2.0, 1.0);
    std::vector<float> inverse_std;
    for (float s : channel_std) inverse_std.push_back(1.0f / s);
    const Tensor scale = Tensor::from_vector(inverse_std, {1, static_cast<int64_t>(inverse_std.size()), 1, 1})
                             .to(sign.dtype())
                             .to(sign.device());
    perturbed = sub(x.detach(), affine(mul(sign, scale), noise, 0.0));
  }
  model.zero_grad();
  NoGradGuard no_grad;
  const Tensor p = softmax(affine(model.forward(perturbed), 1.0 / temperature, 0.0), 1);
  return max(p, 1).first.to(DType::Float64).to(Device::cpu());
}

}  // namespace dismax
