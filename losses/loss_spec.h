// The loss of a run as data: its family, DisMax's FPR option and alpha, parsed from the canonical names
// and the original code's strings, and the head and criterion it makes.
#pragma once

#include <memory>
#include <string>

#include "losses/criteria.h"

namespace dismax {

struct LossSpec {
  std::string family = "softmax";  // softmax | isomax | isomaxplus | dismax | logitnorm
  bool fpr = false;
  double alpha = 1.0;
  double logitnorm_t = 0.04;  // LogitNorm's temperature t
  Numerics numerics = Numerics::Literal;
  double label_smoothing = 0.0;  // SoftMax only; a training choice, not part of the name (str())
  // canonical: "softmax", "dismax", "dismax_fpr", "dismax_fpr_0.5", "logitnorm", "logitnorm_0.1"
  std::string str() const;
  // The family whose head the loss trains: LogitNorm's is SoftMax's (a linear layer).
  std::string head_family() const { return family == "logitnorm" ? "softmax" : family; }
};

// Accepts the canonical names (LogitNorm: "logitnorm", "logitnorm_<t>"), ORIG strings ("dismax_std_std_fpr", "dismax_std_std_0.5",
// "isomaxplus_std_std_std") and LIB strings ("dismax_fpr", "softmax_none"). Throws naming the string.
LossSpec parse_loss(const std::string& text);

std::shared_ptr<LossHead> make_head(const std::string& family, int64_t num_features, int64_t num_classes, Generator& gen);
std::shared_ptr<Criterion> make_criterion(const LossSpec& spec, std::shared_ptr<LossHead> head);

}  // namespace dismax
