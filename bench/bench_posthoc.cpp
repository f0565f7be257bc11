// Post-hoc OOD methods: fit and score times on feature matrices of a realistic size (CIFAR-10's 50,000
// training features of 512 dimensions against 10,000 queries, 10 classes, a linear head), single run per
// method after a warm-up of the GEMM, on all threads. The KNN search is exact (one GEMM per block of queries).
//
// Usage: dismax-bench-posthoc [--train N] [--queries N] [--dim F] [--classes C] [--methods a,b,...]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "engine/grad_mode.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "losses/heads.h"
#include "posthoc/method.h"

using namespace dismax;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  int64_t n_train = 50000, n_query = 10000, dim = 512, classes = 10;
  std::string methods = "gen,mahalanobis,knn,react,ash-s,ash-b,vim";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--train") n_train = std::atoll(argv[i + 1]);
    else if (flag == "--queries") n_query = std::atoll(argv[i + 1]);
    else if (flag == "--dim") dim = std::atoll(argv[i + 1]);
    else if (flag == "--classes") classes = std::atoll(argv[i + 1]);
    else if (flag == "--methods") methods = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  NoGradGuard no_grad;
  Generator gen(1);
  auto head = std::make_shared<SoftMaxHead>(dim, classes, gen);
  auto make_set = [&](int64_t n, bool labelled) {
    FeatureSet s;
    s.features = relu(Tensor::randn({n, dim}, gen));
    s.logits = head->forward(s.features);
    if (labelled) {
      std::vector<int64_t> labels(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) labels[i] = i % classes;
      s.labels = Tensor::from_vector(labels, {n});
    }
    return s;
  };
  const FeatureSet train = make_set(n_train, true), queries = make_set(n_query, false);
  matmul(queries.features, train.features.narrow(0, 0, 1024).t().contiguous());  // warm-up
  std::printf("post-hoc methods, %ld training x %ld queries x %ld features, %ld classes, %d threads\n",
              static_cast<long>(n_train), static_cast<long>(n_query), static_cast<long>(dim), static_cast<long>(classes),
              num_threads());
  std::printf("| method | fit (s) | score %ld queries (s) |\n|---|---:|---:|\n", static_cast<long>(n_query));
  std::stringstream list(methods);
  for (std::string name; std::getline(list, name, ',');) {
    auto method = make_posthoc_method(name, *head);
    auto t0 = std::chrono::steady_clock::now();
    if (method->needs_training_features()) method->fit(train);
    const double fit = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const Tensor s = method->score(queries);
    const double score = seconds_since(t0);
    std::printf("| %s | %.3f | %.3f |\n", name.c_str(), fit, score);
    if (s.numel() != n_query) return 1;
  }
  return 0;
}
