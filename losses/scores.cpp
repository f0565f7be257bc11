#include "losses/scores.h"

#include <algorithm>
#include <cctype>

#include "engine/grad_mode.h"
#include "engine/ops.h"

namespace dismax {

namespace {
Tensor neg_entropy(const Tensor& z, Numerics numerics) {
  const Tensor p = softmax(z, 1);
  const Tensor logp = numerics == Numerics::Fused ? log_softmax(z, 1) : log(p);
  return sum(mul(p, logp), {1});
}
}  // namespace

Tensor compute_score(const Tensor& logits, Score score, Numerics numerics) {
  DISMAX_CHECK(logits.defined() && logits.dim() == 2, "compute_score: logits must be (B, C), got ", logits.describe());
  NoGradGuard guard;
  const Tensor z = logits.detach();
  switch (score) {
    case Score::MPS: return max(softmax(z, 1), 1).first;
    case Score::ES: return neg_entropy(z, numerics);
    case Score::MDS:
    case Score::MaxLogit: return max(z, 1).first;
    case Score::MMLS: return max(z, 1).first + mean(z, {1});
    case Score::MMLES: return max(z, 1).first + mean(z, {1}) + neg_entropy(z, numerics);
    case Score::MMLEPS:
      return max(z, 1).first + mean(z, {1}) + neg_entropy(z, numerics) + max(softmax(z, 1), 1).first;
    case Score::Energy: {
      const Tensor m = max(z, 1, true).first;
      return log(sum(exp(z - m), {1})) + m.squeeze(1);
    }
  }
  DISMAX_FAIL("compute_score: unknown score");
}

std::vector<Score> all_scores() {
  return {Score::MPS, Score::ES, Score::MDS, Score::MMLS, Score::MMLES, Score::MMLEPS, Score::Energy, Score::MaxLogit};
}

std::string score_name(Score score) {
  switch (score) {
    case Score::MPS: return "MPS";
    case Score::ES: return "ES";
    case Score::MDS: return "MDS";
    case Score::MMLS: return "MMLS";
    case Score::MMLES: return "MMLES";
    case Score::MMLEPS: return "MMLEPS";
    case Score::Energy: return "energy";
    case Score::MaxLogit: return "maxlogit";
  }
  return "?";
}

Score parse_score(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string known;
  for (Score s : all_scores()) {
    std::string n = score_name(s);
    known += (known.empty() ? "" : ", ") + n;
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    if (n == lower) return s;
  }
  DISMAX_FAIL("unknown score '", name, "' (known: ", known, ")");
}

std::vector<Score> recommended_scores(const std::string& loss_name) {
  if (loss_name == "softmax" || loss_name == "logitnorm") return {Score::MPS};
  if (loss_name == "isomax") return {Score::ES};
  if (loss_name == "isomaxplus") return {Score::MDS};
  if (loss_name == "dismax") return {Score::MMLES, Score::MPS};
  DISMAX_FAIL("recommended_scores: unknown loss '", loss_name, "'");
}

}  // namespace dismax
