#include "losses/criteria.h"

#include <cmath>
#include <map>
#include <sstream>

#include "engine/grad_mode.h"
#include "engine/ops.h"

namespace dismax {

namespace {

std::vector<int64_t> host_targets(const Tensor& targets, int64_t batch, int64_t classes, const char* loss) {
  DISMAX_CHECK(targets.defined() && targets.dtype() == DType::Int64 && targets.dim() == 1 &&
                   targets.size(0) == batch,
               loss, ": targets must be int64 of shape [", batch, "], got ", targets.describe());
  auto values = targets.to_vector<int64_t>();
  for (size_t i = 0; i < values.size(); ++i)
    DISMAX_CHECK(values[i] >= 0 && values[i] < classes, loss, ": target[", i, "] = ", values[i],
                 " is outside [0, ", classes, ")");
  return values;
}

void check_logits(const Tensor& logits, const char* loss) {
  DISMAX_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) > 0, loss,
               ": logits must be (B, C) with B > 0, got ", logits.describe());
}

// Elements of a (B, C) matrix at flat positions, as a differentiable 1-D tensor.
Tensor gather_flat(const Tensor& m, const std::vector<int64_t>& flat) {
  return index_select(m.reshape({-1}), 0, flat);
}

Tensor log_probabilities(const Tensor& logits, double scale, Numerics numerics) {
  const Tensor z = scale == 1.0 ? logits : logits * scale;
  return numerics == Numerics::Fused ? log_softmax(z, 1) : log(softmax(z, 1));
}

Tensor mean_nll(const Tensor& logits, const std::vector<int64_t>& y, int64_t begin, int64_t end, double scale,
                Numerics numerics) {
  const Tensor rows = logits.narrow(0, begin, end - begin);
  const int64_t C = logits.size(1);
  std::vector<int64_t> flat;
  for (int64_t i = begin; i < end; ++i) flat.push_back((i - begin) * C + y[i]);
  return neg(mean(gather_flat(log_probabilities(rows, scale, numerics), flat)));
}

}  // namespace

std::pair<Tensor, Tensor> Criterion::preprocess(const Tensor& inputs, const Tensor& targets, Generator&) {
  return {inputs, targets};
}

Tensor target_log_probabilities(const Tensor& logits, const Tensor& targets, double scale, Numerics numerics) {
  check_logits(logits, "target_log_probabilities");
  const int64_t B = logits.size(0), C = logits.size(1);
  const auto y = host_targets(targets, B, C, "target_log_probabilities");
  std::vector<int64_t> flat(B);
  for (int64_t i = 0; i < B; ++i) flat[i] = i * C + y[i];
  return gather_flat(log_probabilities(logits, scale, numerics), flat);
}

SoftMaxLoss::SoftMaxLoss(std::shared_ptr<LossHead> head, double label_smoothing)
    : Criterion(std::move(head)), label_smoothing_(label_smoothing) {
  DISMAX_CHECK(label_smoothing >= 0 && label_smoothing < 1, "softmax loss: label smoothing must be in [0, 1), got ",
               label_smoothing);
}

Tensor SoftMaxLoss::forward(const Tensor& logits, const Tensor& targets) {
  check_logits(logits, "softmax loss");
  const auto y = host_targets(targets, logits.size(0), logits.size(1), "softmax loss");
  if (label_smoothing_ == 0.0) return mean_nll(logits, y, 0, logits.size(0), 1.0, Numerics::Fused);
  const Tensor log_p = log_softmax(logits, 1);
  const int64_t C = logits.size(1);
  std::vector<int64_t> flat;
  for (int64_t i = 0; i < logits.size(0); ++i) flat.push_back(i * C + y[i]);
  const Tensor nll = neg(mean(gather_flat(log_p, flat)));
  const Tensor uniform = neg(mean(log_p));  // mean over samples and classes of -log p
  return nll * (1.0 - label_smoothing_) + uniform * label_smoothing_;
}

LogitNormLoss::LogitNormLoss(std::shared_ptr<LossHead> head, double t) : Criterion(std::move(head)), t_(t) {
  DISMAX_CHECK(std::isfinite(t) && t > 0, "logitnorm: t must be a positive number, got ", t);
}

Tensor LogitNormLoss::forward(const Tensor& logits, const Tensor& targets) {
  check_logits(logits, "logitnorm loss");
  const auto y = host_targets(targets, logits.size(0), logits.size(1), "logitnorm loss");
  // t (||z|| + 1e-7); the squared norm is clamped so that an all-zero row has gradient 0, not NaN.
  const Tensor norms = affine(sqrt(clamp_min(sum(square(logits), {1}, true), 1e-30)), t_, t_ * 1e-7);
  return mean_nll(div(logits, norms), y, 0, logits.size(0), 1.0, Numerics::Fused);
}

std::string LogitNormLoss::describe() const {
  if (t_ == 0.04) return "logitnorm";
  std::ostringstream os;
  os << "logitnorm_" << t_;
  return os.str();
}

IsoMaxLoss::IsoMaxLoss(std::shared_ptr<LossHead> head, Numerics numerics, double entropic_scale)
    : Criterion(std::move(head)), numerics_(numerics), entropic_scale_(entropic_scale) {}

Tensor IsoMaxLoss::forward(const Tensor& logits, const Tensor& targets) {
  check_logits(logits, "isomax loss");
  const auto y = host_targets(targets, logits.size(0), logits.size(1), "isomax loss");
  return mean_nll(logits, y, 0, logits.size(0), entropic_scale_, numerics_);
}

std::string IsoMaxLoss::describe() const { return head_->loss_name(); }

DisMaxLoss::DisMaxLoss(std::shared_ptr<LossHead> head, DisMaxOptions options)
    : Criterion(std::move(head)), options_(options) {
  DISMAX_CHECK(options.alpha >= 0.0, "dismax loss: alpha must be >= 0, got ", options.alpha);
}

std::string DisMaxLoss::describe() const {
  if (!options_.fpr) return "dismax";
  return options_.alpha == 1.0 ? "dismax_fpr" : "dismax_fpr_" + std::to_string(options_.alpha).substr(0, 4);
}

std::pair<Tensor, Tensor> DisMaxLoss::preprocess(const Tensor& inputs, const Tensor& targets, Generator& gen) {
  DISMAX_CHECK(inputs.defined() && inputs.dim() == 4, "dismax preprocess: inputs must be (B, C, H, W), got ",
               inputs.describe());
  DISMAX_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == inputs.size(0),
               "dismax preprocess: targets ", targets.describe(), " do not match inputs ", inputs.describe());
  NoGradGuard guard;
  const std::vector<int64_t> order = randperm(inputs.size(0), gen).to_vector<int64_t>();
  Tensor x = index_select(inputs, 0, order);
  Tensor y = targets.device().is_cpu() ? index_select(targets, 0, order)
                                       : index_select(targets.to(Device::cpu()), 0, order).to(targets.device());
  if (options_.fpr) x = fpr_mix(x);
  return {x, y};
}

Tensor fpr_mix(const Tensor& inputs) {
  DISMAX_CHECK(inputs.defined() && inputs.dim() == 4, "fpr_mix: inputs must be (B, C, H, W), got ", inputs.describe());
  const int64_t B = inputs.size(0), H = inputs.size(2), W = inputs.size(3);
  const int64_t h = B / 2, n2 = B - h, R = H / 2, Cc = W / 2;
  NoGradGuard guard;
  Tensor out = inputs.contiguous().clone();
  struct Quadrant {
    int64_t row0, rows, col0, cols, shift;
  };
  for (const Quadrant& q : {Quadrant{R, H - R, 0, Cc, 1}, Quadrant{0, R, Cc, W - Cc, 2}, Quadrant{R, H - R, Cc, W - Cc, 3}}) {
    if (q.rows == 0 || q.cols == 0 || n2 == 0) continue;
    const Tensor source = inputs.narrow(2, q.row0, q.rows).narrow(3, q.col0, q.cols);
    out.narrow(2, q.row0, q.rows).narrow(3, q.col0, q.cols).copy_(roll(source, q.shift, 0, h, n2));
  }
  return out;
}

Tensor fpr_targets(const std::vector<int64_t>& labels, int64_t num_classes) {
  const int64_t n2 = static_cast<int64_t>(labels.size());
  std::vector<float> t(static_cast<size_t>(n2 * num_classes), 0.0f);
  for (int64_t m = 0; m < n2; ++m)
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t c = labels[((m - k) % n2 + n2) % n2];
      DISMAX_CHECK(c >= 0 && c < num_classes, "fpr_targets: label ", c, " is outside [0, ", num_classes, ")");
      t[m * num_classes + c] += 0.25f;
    }
  return Tensor::from_vector(t, {n2, num_classes});
}

Tensor fpr_loss(const Tensor& logits, const Tensor& targets, double scale, double alpha, Numerics numerics) {
  check_logits(logits, "dismax fpr loss");
  const int64_t B = logits.size(0), C = logits.size(1), h = B / 2, n2 = B - h;
  const auto y = host_targets(targets, B, C, "dismax fpr loss");
  // A batch of one has an empty first half; its cross-entropy term is taken as 0 (the original's mean
  // over no samples would be NaN).
  const Tensor ce = h > 0 ? mean_nll(logits, y, 0, h, scale, numerics)
                          : Tensor::zeros({}, TensorOptions(logits.dtype()).device(logits.device()));
  const Tensor logq = log_probabilities(logits.narrow(0, h, n2), scale, numerics);
  // KL(t || q) over the nonzero target entries only (at most four per row).
  std::vector<int64_t> flat;
  std::vector<double> weight, weight_log;
  for (int64_t m = 0; m < n2; ++m) {
    std::map<int64_t, int> counts;
    for (int64_t k = 0; k < 4; ++k) ++counts[y[h + ((m - k) % n2 + n2) % n2]];
    for (const auto& [c, count] : counts) {
      flat.push_back(m * C + c);
      weight.push_back(count / 4.0);
      weight_log.push_back(count / 4.0 * std::log(count / 4.0));
    }
  }
  const int64_t nz = static_cast<int64_t>(flat.size());
  const Tensor w = Tensor::from_vector(weight, {nz}).to(logits.dtype()).to(logits.device());
  double constant = 0;
  for (double v : weight_log) constant += v;
  const Tensor kl = affine(neg(sum(mul(w, gather_flat(logq, flat)))), 1.0 / n2, constant / n2);
  return affine(add(ce, kl, alpha), 0.5, 0.0);
}

Tensor DisMaxLoss::forward(const Tensor& logits, const Tensor& targets) {
  check_logits(logits, "dismax loss");
  if (!head_->is_training()) {
    if (auto* dm = dynamic_cast<DisMaxHead*>(head_.get())) {
      NoGradGuard guard;
      dm->validationset_available.fill_(1.0);
    }
    const auto y = host_targets(targets, logits.size(0), logits.size(1), "dismax loss");
    return mean_nll(logits, y, 0, logits.size(0), 1.0, options_.numerics);
  }
  if (options_.fpr) return fpr_loss(logits, targets, options_.entropic_scale, options_.alpha, options_.numerics);
  const auto y = host_targets(targets, logits.size(0), logits.size(1), "dismax loss");
  return mean_nll(logits, y, 0, logits.size(0), options_.entropic_scale, options_.numerics);
}

LogitStatistics logit_statistics(const Tensor& logits, const Tensor& targets) {
  check_logits(logits, "logit_statistics");
  const int64_t B = logits.size(0), C = logits.size(1);
  const auto y = host_targets(targets, B, C, "logit_statistics");
  const auto z = logits.detach().to_vector<float>();
  LogitStatistics s;
  s.intra.reserve(B);
  s.inter.reserve(B * (C - 1));
  for (int64_t i = 0; i < B; ++i)
    for (int64_t c = 0; c < C; ++c) (c == y[i] ? s.intra : s.inter).push_back(z[i * C + c]);
  return s;
}

}  // namespace dismax
