// OOD scores computed from a head's output z (already divided by T), higher = more in-distribution
// (SPEC §1.8), plus the post-hoc energy and max-logit scores users compare against.
//   MPS    max_j p_j                       (p = softmax(z), no entropic scale)
//   ES     sum_j p_j log p_j               (negative entropy)
//   MDS    max_j z_j                       (minimum distance for the distance heads)
//   MMLS   max_j z_j + mean_j z_j
//   MMLES  MMLS + sum_j p_j log p_j
//   MMLEPS MMLES + max_j p_j
//   Energy logsumexp_j z_j                 (negative free energy at the head's temperature)
//   MaxLogit max_j z_j                     (same formula as MDS, labelled for logit heads)
// Numerics::Literal computes p log p as the original (NaN where p underflows to 0); Fused uses
// p * log_softmax(z), always finite.
#pragma once

#include <string>
#include <vector>

#include "losses/criteria.h"

namespace dismax {

enum class Score { MPS, ES, MDS, MMLS, MMLES, MMLEPS, Energy, MaxLogit };

Tensor compute_score(const Tensor& logits, Score score, Numerics numerics = Numerics::Literal);  // (B)
std::string score_name(Score score);  // "MPS", ..., "energy", "maxlogit"
Score parse_score(const std::string& name);  // case-insensitive; throws listing the known names
std::vector<Score> all_scores();
// The scores the original scripts evaluate for a loss: softmax MPS (and logitnorm, as OpenOOD), isomax ES, isomaxplus MDS, dismax MMLES
// and MPS.
std::vector<Score> recommended_scores(const std::string& loss_name);

}  // namespace dismax
