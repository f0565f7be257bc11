// Post-hoc OOD detection methods: scores computed after training, on any checkpoint, from what one forward
// pass per set gives (the penultimate features and the head's output), with OpenOOD v1.5's definitions.
// Some are fitted first on the in-distribution training set's features. Higher score = more
// in-distribution. ODIN, which needs gradients with respect to the input, is posthoc/odin.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "layers/module.h"
#include "losses/criteria.h"

namespace dismax {

// One set's forward pass, on the host: features (N, F) float32, the head's output (N, C) float32 and, for
// the training set, labels (N) int64.
struct FeatureSet {
  Tensor features, logits, labels;
  int64_t size() const { return features.defined() ? features.size(0) : logits.size(0); }
};

// The hyperparameters, OpenOOD's defaults for CIFAR.
struct PosthocOptions {
  double gen_gamma = 0.1;          // GEN: sum over the M largest p of p^gamma (1 - p)^gamma
  int64_t gen_m = 100;             // at most the class count
  double react_percentile = 90;    // ReAct: clip features at this percentile of the training features
  double ash_percentile = 90;      // ASH-S / ASH-B: keep the top (100 - p)% of each feature vector
  int64_t knn_k = 50;              // KNN: the K-th nearest training feature
  int64_t vim_dim = 0;             // ViM: principal subspace dimension (0: half the feature dimension)
  double odin_temperature = 1000;  // ODIN
  double odin_noise = 0.0014;      // ODIN: input perturbation, divided by each channel's std
  Numerics numerics = Numerics::Literal;  // the entropy-based head-output scores (losses/scores.h)
};

class PosthocMethod {
 public:
  virtual ~PosthocMethod() = default;
  virtual std::string name() const = 0;
  // Fitted on the in-distribution training features before scoring.
  virtual bool needs_training_features() const { return false; }
  virtual void fit(const FeatureSet& train) { (void)train; }
  // Why the method has no value for this head ("" when it has one): ViM needs a linear head.
  virtual std::string undefined_reason() const { return ""; }
  // (N) float64 on the host.
  virtual Tensor score(const FeatureSet& set) const = 0;
};

// The methods by name (case-insensitive): the head-output scores of losses/scores.h (MPS, alias msp; ES;
// MDS; MMLS; MMLES; MMLEPS; energy, alias ebo; maxlogit, alias mls), gen, mahalanobis, knn, react, ash-s,
// ash-b, vim. `head` is the
// model's head (ReAct, ASH and ViM apply or read it; it must outlive the method). odin is not made here.
// Throws naming the method and listing the known ones.
std::unique_ptr<PosthocMethod> make_posthoc_method(const std::string& name, Module& head,
                                                   const PosthocOptions& options = {});
// Every method name make_posthoc_method accepts, plus "odin".
std::vector<std::string> posthoc_method_names();
// The canonical spelling of a method name ("MSP" -> "MPS", "Energy" -> "energy"); throws for unknown names
// and for "ash" (ash-s or ash-b).
std::string canonical_method_name(const std::string& name);

}  // namespace dismax
