#include "posthoc/host_math.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"

namespace dismax::posthoc_detail {

RowMatrixD to_matrix(const Tensor& t) {
  DISMAX_CHECK(t.dim() == 2, "post-hoc methods: expected a (N, F) tensor, got ", t.describe());
  const std::vector<double> v = t.to_vector<double>();
  RowMatrixD m(t.size(0), t.size(1));
  std::copy(v.begin(), v.end(), m.data());
  return m;
}

Tensor to_tensor(const RowMatrixD& m) {
  std::vector<float> v(m.data(), m.data() + m.size());
  return Tensor::from_vector(v, {m.rows(), m.cols()});
}

Tensor scores_tensor(const std::vector<double>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

double percentile(std::vector<double> values, double q) {
  DISMAX_CHECK(!values.empty(), "percentile of no values");
  DISMAX_CHECK(q >= 0 && q <= 100, "percentile ", q, " is outside [0, 100]");
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double a = values[lo];
  if (lo + 1 >= values.size()) return a;
  const double b = *std::min_element(values.begin() + lo + 1, values.end());
  return a + (b - a) * (pos - static_cast<double>(lo));
}

Eigen::MatrixXd pseudo_inverse_symmetric(const Eigen::MatrixXd& a) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(a);
  DISMAX_CHECK(eig.info() == Eigen::Success, "post-hoc methods: the eigen-decomposition of a covariance failed");
  const Eigen::VectorXd& lambda = eig.eigenvalues();
  const double cutoff = lambda.cwiseAbs().maxCoeff() * static_cast<double>(a.rows()) *
                        std::numeric_limits<double>::epsilon();
  Eigen::VectorXd inverse(lambda.size());
  for (Eigen::Index i = 0; i < lambda.size(); ++i) inverse[i] = std::abs(lambda[i]) > cutoff ? 1.0 / lambda[i] : 0.0;
  return eig.eigenvectors() * inverse.asDiagonal() * eig.eigenvectors().transpose();
}

}  // namespace dismax::posthoc_detail
