// Host-side helpers shared by the post-hoc methods: row-major views of (N, F) tensors, per-row reductions.
#pragma once

#include <Eigen/Dense>
#include <vector>

#include "engine/tensor.h"

namespace dismax::posthoc_detail {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A (N, F) tensor of any floating dtype and device as a host double matrix.
RowMatrixD to_matrix(const Tensor& t);
// A host matrix as a (N, F) float32 tensor.
Tensor to_tensor(const RowMatrixD& m);
// (N) float64 tensor from values.
Tensor scores_tensor(const std::vector<double>& values);
// numpy.percentile(values, q) with linear interpolation; `values` is reordered.
double percentile(std::vector<double> values, double q);
// Eigen's symmetric eigen-decomposition of `a`: the pseudo-inverse (scipy.linalg.pinvh: eigenvalues at most
// max |lambda| * n * eps count as zero).
Eigen::MatrixXd pseudo_inverse_symmetric(const Eigen::MatrixXd& a);

}  // namespace dismax::posthoc_detail
