// The second parts of the losses: criteria mapping (logits, targets) to the mean loss (SPEC §1). Each
// holds its head, whose training flag picks the training or validation formula.
//
// Numerics: the original code computes q = softmax(E z) and then log q in two steps, which gives -inf
// and NaN gradients if a target probability underflows to 0 in float32 (for DisMax only once |s| > ~7).
// Numerics::Literal reproduces that (the default: it is what produced the paper's numbers, and it does
// not underflow in normal training); Numerics::Fused uses log-softmax instead, identical up to rounding
// and always finite. The FPR KL term follows the mathematical definition in both modes: entries with a
// zero target contribute nothing (0 log 0 = 0), where PyTorch's kl_div returns NaN if q is also 0.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/generator.h"
#include "losses/heads.h"

namespace dismax {

enum class Numerics { Literal, Fused };

class Criterion {
 public:
  explicit Criterion(std::shared_ptr<LossHead> head) : head_(std::move(head)) {}
  virtual ~Criterion() = default;
  // Prepares a training batch before the forward pass; identity except for DisMax (shuffle, FPR mixing).
  virtual std::pair<Tensor, Tensor> preprocess(const Tensor& inputs, const Tensor& targets, Generator& gen);
  // Mean loss over the batch; logits (B, C) from the head, targets (B) int64.
  virtual Tensor forward(const Tensor& logits, const Tensor& targets) = 0;
  Tensor operator()(const Tensor& logits, const Tensor& targets) { return forward(logits, targets); }
  virtual std::string describe() const = 0;  // "dismax_fpr", "softmax", ...
  LossHead& head() const { return *head_; }

 protected:
  std::shared_ptr<LossHead> head_;
};

// Cross-entropy of the logits (fused log-softmax), train and eval alike. With label smoothing e (PyTorch's
// CrossEntropyLoss(label_smoothing=e)): (1 - e) * NLL + e * mean over classes of -log p, batch-averaged.
class SoftMaxLoss : public Criterion {
 public:
  explicit SoftMaxLoss(std::shared_ptr<LossHead> head, double label_smoothing = 0.0);
  Tensor forward(const Tensor& logits, const Tensor& targets) override;
  std::string describe() const override { return "softmax"; }
  double label_smoothing() const { return label_smoothing_; }

 private:
  double label_smoothing_;
};

// LogitNorm (Wei et al., ICML 2022) on a SoftMax head: cross-entropy of z / (t (||z|| + 1e-7)), train
// and eval alike (t = 0.04 by default, as the paper and OpenOOD).
class LogitNormLoss : public Criterion {
 public:
  LogitNormLoss(std::shared_ptr<LossHead> head, double t = 0.04);
  Tensor forward(const Tensor& logits, const Tensor& targets) override;
  std::string describe() const override;
  double t() const { return t_; }

 private:
  double t_;
};

// IsoMax and IsoMax+: -mean log softmax(E z)_target with the entropic scale E = 10, train and eval alike.
class IsoMaxLoss : public Criterion {
 public:
  IsoMaxLoss(std::shared_ptr<LossHead> head, Numerics numerics = Numerics::Literal, double entropic_scale = 10.0);
  Tensor forward(const Tensor& logits, const Tensor& targets) override;
  std::string describe() const override;

 private:
  Numerics numerics_;
  double entropic_scale_;
};

struct DisMaxOptions {
  bool fpr = false;     // fractional probability regularisation
  double alpha = 1.0;   // weight of the KL term (1, 0.5 or 0.25 in the paper's runs)
  Numerics numerics = Numerics::Literal;
  double entropic_scale = 10.0;
};

// DisMax. Training: -mean log softmax(E z)_target, or with FPR (L_ce(first half) + alpha KL(t || q)(second
// half)) / 2. Evaluation: -mean log softmax(z)_target (no entropic scale), and the head's
// validationset_available flag is set as in the original.
class DisMaxLoss : public Criterion {
 public:
  DisMaxLoss(std::shared_ptr<LossHead> head, DisMaxOptions options);
  // Shuffles the batch (always), then with FPR rolls the quadrants of the second half (SPEC §1.6.1).
  std::pair<Tensor, Tensor> preprocess(const Tensor& inputs, const Tensor& targets, Generator& gen) override;
  Tensor forward(const Tensor& logits, const Tensor& targets) override;
  std::string describe() const override;
  const DisMaxOptions& options() const { return options_; }

 private:
  DisMaxOptions options_;
};

// ---- pieces, exposed for tests and for custom training loops

// log q[i, targets[i]] for q = softmax(scale * logits): literal (softmax then log) or fused.
Tensor target_log_probabilities(const Tensor& logits, const Tensor& targets, double scale, Numerics numerics);
// FPR preprocessing without the shuffle: in the second half (from floor(B/2)), the bottom-left, top-right
// and bottom-right quadrants are rolled by 1, 2 and 3 along the batch within that half.
Tensor fpr_mix(const Tensor& inputs);
// FPR target distributions (n2, C) for the second-half labels: t_m = (e_y(m) + e_y(m-1) + e_y(m-2) +
// e_y(m-3)) / 4, indices modulo n2.
Tensor fpr_targets(const std::vector<int64_t>& second_half_labels, int64_t num_classes);
// The FPR loss for logits already ordered as preprocess leaves them.
Tensor fpr_loss(const Tensor& logits, const Tensor& targets, double entropic_scale, double alpha, Numerics numerics);

// Target logits (B) and the non-target logits (B * (C - 1), row-major), for the training statistics.
struct LogitStatistics {
  std::vector<float> intra, inter;
};
LogitStatistics logit_statistics(const Tensor& logits, const Tensor& targets);

}  // namespace dismax
