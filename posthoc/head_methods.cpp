// The methods that read the head's output alone: the scores of losses/scores.h and GEN.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "engine/error.h"
#include "losses/scores.h"
#include "posthoc/head_methods.h"
#include "posthoc/host_math.h"

namespace dismax {

namespace {

using posthoc_detail::RowMatrixD;

class ScoreMethod : public PosthocMethod {
 public:
  ScoreMethod(Score score, Numerics numerics) : score_(score), numerics_(numerics) {}
  std::string name() const override { return score_name(score_); }
  Tensor score(const FeatureSet& set) const override {
    return compute_score(set.logits, score_, numerics_).to(DType::Float64);
  }

 private:
  Score score_;
  Numerics numerics_;
};

// GEN (Liu et al., CVPR 2023): -sum over the M largest probabilities of p^gamma (1 - p)^gamma.
class GenMethod : public PosthocMethod {
 public:
  GenMethod(double gamma, int64_t m) : gamma_(gamma), m_(m) {
    DISMAX_CHECK(gamma > 0, "--gen-gamma must be > 0, got ", gamma);
    DISMAX_CHECK(m >= 1, "--gen-m must be >= 1, got ", m);
  }
  std::string name() const override { return "gen"; }
  Tensor score(const FeatureSet& set) const override {
    const RowMatrixD z = posthoc_detail::to_matrix(set.logits);
    const int64_t m = std::min<int64_t>(m_, z.cols());
    std::vector<double> out(static_cast<size_t>(z.rows()));
    std::vector<double> p(static_cast<size_t>(z.cols()));
    for (Eigen::Index i = 0; i < z.rows(); ++i) {
      const double top = z.row(i).maxCoeff();
      double total = 0;
      for (Eigen::Index j = 0; j < z.cols(); ++j) total += p[j] = std::exp(z(i, j) - top);
      for (double& v : p) v /= total;
      std::partial_sort(p.begin(), p.begin() + m, p.end(), std::greater<double>());
      double s = 0;
      for (int64_t j = 0; j < m; ++j) s += std::pow(p[j], gamma_) * std::pow(1.0 - p[j], gamma_);
      out[i] = -s;
    }
    return posthoc_detail::scores_tensor(out);
  }

 private:
  double gamma_;
  int64_t m_;
};

}  // namespace

std::unique_ptr<PosthocMethod> make_head_output_method(const std::string& canonical, const PosthocOptions& o) {
  if (canonical == "gen") return std::make_unique<GenMethod>(o.gen_gamma, o.gen_m);
  for (Score s : all_scores())
    if (score_name(s) == canonical) return std::make_unique<ScoreMethod>(s, o.numerics);
  return nullptr;
}

}  // namespace dismax
