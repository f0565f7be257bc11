// The loss of a run as data: its family, DisMax's FPR option and alpha, parsed from the canonical names
// and the original code's strings, and the head and criterion it makes.
#pragma once

#include <memory>
#include <string>

#include "losses/criteria.h"

namespace dismax {

struct LossSpec {
  std::string family = "softmax";  // softmax | isomax | isomaxplus | dismax
  bool fpr = false;
  double alpha = 1.0;
  Numerics numerics = Numerics::Literal;
  std::string str() const;  // canonical: "softmax", "dismax", "dismax_fpr", "dismax_fpr_0.5"
};

// Accepts the canonical names, ORIG strings ("dismax_std_std_fpr", "dismax_std_std_0.5",
// "isomaxplus_std_std_std") and LIB strings ("dismax_fpr", "softmax_none"). Throws naming the string.
LossSpec parse_loss(const std::string& text);

std::shared_ptr<LossHead> make_head(const std::string& family, int64_t num_features, int64_t num_classes, Generator& gen);
std::shared_ptr<Criterion> make_criterion(const LossSpec& spec, std::shared_ptr<LossHead> head);

}  // namespace dismax
