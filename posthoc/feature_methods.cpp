// The methods that read the penultimate features, fitted on the in-distribution training features:
// Mahalanobis, KNN, ViM; and those that change the features and apply the head again: ReAct, ASH-S.
// Definitions follow OpenOOD v1.5's postprocessors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "engine/error.h"
#include "engine/grad_mode.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "losses/heads.h"
#include "losses/scores.h"
#include "posthoc/head_methods.h"
#include "posthoc/host_math.h"

namespace dismax {

namespace {

using posthoc_detail::RowMatrixD;
using posthoc_detail::to_matrix;

void check_fitted(bool fitted, const char* method) {
  DISMAX_CHECK(fitted, method, " needs the in-distribution training features (fit) before scoring");
}

void check_features(const FeatureSet& set, const char* method) {
  DISMAX_CHECK(set.features.defined() && set.features.dim() == 2, method,
               " needs the penultimate features (N, F) of every set");
}

// The energy score logsumexp_j z_j of head outputs (losses/scores.h), (N) float64 on the host.
Tensor energy(const Tensor& logits) { return compute_score(logits, Score::Energy).to(DType::Float64); }

// The head's output for host features, computed where the head lives.
Tensor apply_head(Module& head, const RowMatrixD& features) {
  NoGradGuard no_grad;
  Tensor f = posthoc_detail::to_tensor(features);
  const auto params = head.named_parameters();
  if (!params.empty()) f = f.to(params.front().second.device());
  return head.forward(f).to(Device::cpu());
}

// Mahalanobis (Lee et al. 2018, OpenOOD's MDS): class means and one covariance of the class-centred
// training features (sklearn's EmpiricalCovariance, divided by N), its pseudo-inverse P;
// score = max_c -(x - mu_c)^T P (x - mu_c).
class MahalanobisMethod : public PosthocMethod {
 public:
  std::string name() const override { return "mahalanobis"; }
  bool needs_training_features() const override { return true; }
  void fit(const FeatureSet& train) override {
    check_features(train, "mahalanobis");
    DISMAX_CHECK(train.labels.defined(), "mahalanobis: the training features need their labels");
    const RowMatrixD x = to_matrix(train.features);
    const std::vector<int64_t> labels = train.labels.to_vector<int64_t>();
    std::map<int64_t, std::vector<Eigen::Index>> rows;
    for (size_t i = 0; i < labels.size(); ++i) rows[labels[i]].push_back(static_cast<Eigen::Index>(i));
    means_.resize(static_cast<Eigen::Index>(rows.size()), x.cols());
    RowMatrixD centred(x.rows(), x.cols());
    Eigen::Index c = 0;
    for (const auto& [label, members] : rows) {
      Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(x.cols());
      for (Eigen::Index r : members) mean += x.row(r);
      mean /= static_cast<double>(members.size());
      means_.row(c++) = mean;
      for (Eigen::Index r : members) centred.row(r) = x.row(r) - mean;
    }
    const Eigen::RowVectorXd location = centred.colwise().mean();
    centred.rowwise() -= location;
    const Eigen::MatrixXd covariance = centred.transpose() * centred / static_cast<double>(x.rows());
    precision_ = posthoc_detail::pseudo_inverse_symmetric(covariance);
    mean_terms_ = (means_ * precision_).cwiseProduct(means_).rowwise().sum();
    fitted_ = true;
  }
  Tensor score(const FeatureSet& set) const override {
    check_fitted(fitted_, "mahalanobis");
    check_features(set, "mahalanobis");
    const RowMatrixD x = to_matrix(set.features);
    const RowMatrixD xp = x * precision_;
    const Eigen::VectorXd quad = xp.cwiseProduct(x).rowwise().sum();
    const RowMatrixD cross = xp * means_.transpose();
    std::vector<double> out(static_cast<size_t>(x.rows()));
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      double best = -std::numeric_limits<double>::infinity();
      for (Eigen::Index c = 0; c < means_.rows(); ++c)
        best = std::max(best, -(quad[i] - 2 * cross(i, c) + mean_terms_[c]));
      out[i] = best;
    }
    return posthoc_detail::scores_tensor(out);
  }

 private:
  RowMatrixD means_;
  Eigen::MatrixXd precision_;
  Eigen::VectorXd mean_terms_;
  bool fitted_ = false;
};

// KNN (Sun et al. 2022): features divided by (||x|| + 1e-10); score = minus the squared Euclidean distance
// to the K-th nearest training feature (faiss IndexFlatL2's distance, as OpenOOD). Exact search: one GEMM
// per block of queries, then per row a bounded max-heap of the K smallest distances (one comparison for most
// candidates, where a full selection would reorder all of them).
class KnnMethod : public PosthocMethod {
 public:
  explicit KnnMethod(int64_t k) : k_(k) { DISMAX_CHECK(k >= 1, "--knn-k must be >= 1, got ", k); }
  std::string name() const override { return "knn"; }
  bool needs_training_features() const override { return true; }
  void fit(const FeatureSet& train) override {
    check_features(train, "knn");
    DISMAX_CHECK(train.size() >= k_, "knn: K = ", k_, " but only ", train.size(), " training features (--knn-k)");
    bank_ = normalized(train.features);
    bank_norms_ = row_squared_norms(bank_);
  }
  Tensor score(const FeatureSet& set) const override {
    check_fitted(bank_.defined(), "knn");
    check_features(set, "knn");
    NoGradGuard no_grad;
    const Tensor queries = normalized(set.features);
    const std::vector<float> query_norms = row_squared_norms(queries);
    const int64_t n = queries.size(0), m = bank_.size(0);
    std::vector<double> out(static_cast<size_t>(n));
    // About 64 MB of distances a block: measured fastest here (50 000 x 512 bank: 335 queries a block).
    const int64_t kBlock = std::max<int64_t>(16, (int64_t{64} << 20) / (4 * m));
    for (int64_t start = 0; start < n; start += kBlock) {
      const int64_t rows = std::min(kBlock, n - start);
      const Tensor dots = matmul(queries.narrow(0, start, rows), bank_.t());  // the GEMM reads the transpose
      const float* d = dots.data<float>();
      parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
        std::vector<float> nearest(static_cast<size_t>(k_));  // a max-heap of the K smallest distances so far
        for (int64_t r = begin; r < end; ++r) {
          const float q = query_norms[start + r];
          const float* dots = d + r * m;
          const float* norms = bank_norms_.data();
          // Unclamped squared distances: clamping at 0 is monotonic, so it is applied to the K-th alone.
          auto distance = [&](int64_t j) { return q + norms[j] - 2.0f * dots[j]; };
          for (int64_t j = 0; j < k_; ++j) nearest[j] = distance(j);
          std::make_heap(nearest.begin(), nearest.end());
          constexpr int64_t kChunk = 64;  // a chunk whose nearest candidate is no better is skipped whole
          for (int64_t j0 = k_; j0 < m; j0 += kChunk) {
            const int64_t j1 = std::min(m, j0 + kChunk);
            float lowest = std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : lowest)
            for (int64_t j = j0; j < j1; ++j) lowest = std::min(lowest, distance(j));
            if (lowest >= nearest.front()) continue;
            for (int64_t j = j0; j < j1; ++j) {
              const float v = distance(j);
              if (v >= nearest.front()) continue;
              std::pop_heap(nearest.begin(), nearest.end());
              nearest.back() = v;
              std::push_heap(nearest.begin(), nearest.end());
            }
          }
          out[start + r] = -static_cast<double>(std::max(0.0f, nearest.front()));
        }
      });
    }
    return posthoc_detail::scores_tensor(out);
  }

 private:
  static Tensor normalized(const Tensor& features) {
    const Tensor f = features.to(DType::Float32).contiguous();
    const int64_t n = f.size(0), dim = f.size(1);
    Tensor out = Tensor::empty({n, dim});
    const float* src = f.data<float>();
    float* dst = out.data<float>();
    parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float s = 0;
        for (int64_t j = 0; j < dim; ++j) s += src[i * dim + j] * src[i * dim + j];
        const float scale = 1.0f / (std::sqrt(s) + 1e-10f);
        for (int64_t j = 0; j < dim; ++j) dst[i * dim + j] = src[i * dim + j] * scale;
      }
    });
    return out;
  }
  static std::vector<float> row_squared_norms(const Tensor& x) {
    const int64_t n = x.size(0), dim = x.size(1);
    const float* p = x.data<float>();
    std::vector<float> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      float s = 0;
      for (int64_t j = 0; j < dim; ++j) s += p[i * dim + j] * p[i * dim + j];
      out[i] = s;
    }
    return out;
  }

  int64_t k_;
  Tensor bank_;  // (M, F) normalised training features
  std::vector<float> bank_norms_;
};

// ReAct (Sun et al. 2021): features clipped at the given percentile of all training feature values, then
// the head; score = energy logsumexp_j z_j of its output.
class ReactMethod : public PosthocMethod {
 public:
  ReactMethod(Module& head, double percentile) : head_(head), percentile_(percentile) {
    DISMAX_CHECK(percentile > 0 && percentile <= 100, "--react-percentile must be in (0, 100], got ", percentile);
  }
  std::string name() const override { return "react"; }
  bool needs_training_features() const override { return true; }
  void fit(const FeatureSet& train) override {
    check_features(train, "react");
    threshold_ = posthoc_detail::percentile(train.features.to_vector<double>(), percentile_);
    fitted_ = true;
  }
  Tensor score(const FeatureSet& set) const override {
    check_fitted(fitted_, "react");
    check_features(set, "react");
    const RowMatrixD clipped = to_matrix(set.features).cwiseMin(threshold_);
    return energy(apply_head(head_, clipped));
  }
  double threshold() const { return threshold_; }

 private:
  Module& head_;
  double percentile_, threshold_ = 0;
  bool fitted_ = false;
};

// ASH (Djurisic et al. 2023) on the penultimate feature vector: keep its k = n - round(n p / 100) largest
// values and zero the rest; ASH-S then multiplies by exp(sum before / sum after), ASH-B (what OpenOOD v1.5's
// "ash" postprocessor runs) sets each kept value to sum before / k. Then the head and the energy score.
// ASH-S leaves a vector whose kept values sum to 0 unscaled (OpenOOD's would divide by zero).
class AshMethod : public PosthocMethod {
 public:
  AshMethod(Module& head, double percentile, bool binary) : head_(head), percentile_(percentile), binary_(binary) {
    DISMAX_CHECK(percentile >= 0 && percentile < 100, "--ash-percentile must be in [0, 100), got ", percentile);
  }
  std::string name() const override { return binary_ ? "ash-b" : "ash-s"; }
  Tensor score(const FeatureSet& set) const override {
    check_features(set, "ash");
    RowMatrixD x = to_matrix(set.features);
    const Eigen::Index n = x.cols();
    const Eigen::Index keep = n - static_cast<Eigen::Index>(std::nearbyint(static_cast<double>(n) * percentile_ / 100.0));
    std::vector<double> row(static_cast<size_t>(n));
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const double before = x.row(i).sum();
      for (Eigen::Index j = 0; j < n; ++j) row[j] = x(i, j);
      std::nth_element(row.begin(), row.begin() + (n - keep), row.end());
      const double cut = keep > 0 ? row[n - keep] : std::numeric_limits<double>::infinity();
      // Ties at the cut: keep the first ones in index order, as many as topk keeps.
      Eigen::Index above = 0;
      for (Eigen::Index j = 0; j < n; ++j) above += x(i, j) > cut;
      Eigen::Index ties_left = keep - above;
      double after = 0;
      for (Eigen::Index j = 0; j < n; ++j) {
        const bool kept = x(i, j) > cut || (x(i, j) == cut && ties_left-- > 0);
        if (!kept) x(i, j) = 0;
        else if (binary_) x(i, j) = before / static_cast<double>(keep);
        after += x(i, j);
      }
      if (!binary_ && after != 0) x.row(i) *= std::exp(before / after);
    }
    return energy(apply_head(head_, x));
  }

 private:
  Module& head_;
  double percentile_;
  bool binary_;
};

// ViM (Wang et al. 2022), for a linear head z = (f W^T + b) / T: origin u = -pinv(W) b; the principal subspace
// of the uncentred covariance of (f - u) over the training features, dimension D; the residual
// ||(f - u) NS|| on the remaining eigenvectors, scaled by alpha = mean max_j z_j / mean residual on the
// training set; score = logsumexp_j z_j - alpha ||(f - u) NS||.
class VimMethod : public PosthocMethod {
 public:
  VimMethod(Module& head, int64_t dim) : dim_(dim) {
    if (auto* linear = dynamic_cast<SoftMaxHead*>(&head)) {
      temperature_ = linear->temperature();
      w_ = to_matrix(linear->weights.detach());
      b_ = Eigen::Map<const Eigen::VectorXd>(linear->bias.to_vector<double>().data(), linear->bias.numel());
    } else {
      reason_ = "not defined for this head (ViM needs a linear head; this one is " + head.type_name() + ")";
    }
  }
  std::string name() const override { return "vim"; }
  bool needs_training_features() const override { return true; }
  std::string undefined_reason() const override { return reason_; }
  void fit(const FeatureSet& train) override {
    if (!reason_.empty()) return;
    check_features(train, "vim");
    const RowMatrixD x = to_matrix(train.features);
    const Eigen::Index f = x.cols();
    const Eigen::Index d = dim_ > 0 ? dim_ : f / 2;
    DISMAX_CHECK(d >= 1 && d < f, "--vim-dim must be in [1, ", f, ") for ", f, "-d features, got ", d);
    const Eigen::MatrixXd w = w_;
    origin_ = -(w.completeOrthogonalDecomposition().pseudoInverse() * b_);
    RowMatrixD shifted = x.rowwise() - origin_.transpose();
    const Eigen::MatrixXd covariance = shifted.transpose() * shifted / static_cast<double>(x.rows());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(covariance);
    DISMAX_CHECK(eig.info() == Eigen::Success, "vim: the eigen-decomposition of the feature covariance failed");
    // Eigen sorts eigenvalues increasingly: the null space is the first f - d eigenvectors.
    null_space_ = eig.eigenvectors().leftCols(f - d);
    const Eigen::VectorXd residual = (shifted * null_space_).rowwise().norm();
    const RowMatrixD z = logits_of(x);
    alpha_ = z.rowwise().maxCoeff().mean() / residual.mean();
    fitted_ = true;
  }
  Tensor score(const FeatureSet& set) const override {
    DISMAX_CHECK(reason_.empty(), "vim: ", reason_);
    check_fitted(fitted_, "vim");
    check_features(set, "vim");
    const RowMatrixD x = to_matrix(set.features);
    const Eigen::VectorXd residual = ((x.rowwise() - origin_.transpose()) * null_space_).rowwise().norm();
    const RowMatrixD z = logits_of(x);
    std::vector<double> out =
        energy(Tensor::from_vector(std::vector<double>(z.data(), z.data() + z.size()), {z.rows(), z.cols()}))
            .to_vector<double>();
    for (size_t i = 0; i < out.size(); ++i) out[i] -= alpha_ * residual[static_cast<Eigen::Index>(i)];
    return posthoc_detail::scores_tensor(out);
  }

 private:
  // The head's output: (f W^T + b) / T, T = 1 unless calibration wrote one (OpenOOD has no T).
  RowMatrixD logits_of(const RowMatrixD& x) const {
    return ((x * w_.transpose()).rowwise() + b_.transpose()) / temperature_;
  }

  int64_t dim_;
  std::string reason_;
  RowMatrixD w_;
  Eigen::VectorXd b_, origin_;
  Eigen::MatrixXd null_space_;
  double temperature_ = 1.0, alpha_ = 0;
  bool fitted_ = false;
};

}  // namespace

std::unique_ptr<PosthocMethod> make_feature_method(const std::string& canonical, Module& head,
                                                   const PosthocOptions& o) {
  if (canonical == "mahalanobis") return std::make_unique<MahalanobisMethod>();
  if (canonical == "knn") return std::make_unique<KnnMethod>(o.knn_k);
  if (canonical == "react") return std::make_unique<ReactMethod>(head, o.react_percentile);
  if (canonical == "ash-s") return std::make_unique<AshMethod>(head, o.ash_percentile, false);
  if (canonical == "ash-b") return std::make_unique<AshMethod>(head, o.ash_percentile, true);
  if (canonical == "vim") return std::make_unique<VimMethod>(head, o.vim_dim);
  return nullptr;
}

}  // namespace dismax
