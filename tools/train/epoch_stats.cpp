#include "tools/train/epoch_stats.h"

#include <cmath>

namespace dismax {

double Moments::mean() const { return count > 0 ? sum / count : 0.0; }
double Moments::std() const {
  if (count <= 0) return 0.0;
  const double m = mean();
  return std::sqrt(std::max(0.0, sumsq / count - m * m));
}

void EpochStats::add_batch(double loss, const Tensor& logits, const Tensor& targets) {
  const int64_t B = logits.size(0), C = logits.size(1);
  const auto z = logits.detach().to_vector<float>();
  const auto y = targets.to_vector<int64_t>();
  loss_sum += loss * B;
  seen += B;
  const double log_c = std::log(static_cast<double>(C));
  std::vector<double> p(C);
  for (int64_t i = 0; i < B; ++i) {
    const float* row = z.data() + i * C;
    int64_t arg = 0;
    for (int64_t c = 1; c < C; ++c)
      if (row[c] > row[arg]) arg = c;
    correct += arg == y[i];
    double total = 0;
    for (int64_t c = 0; c < C; ++c) {
      p[c] = std::exp(static_cast<double>(row[c]) - row[arg]);
      total += p[c];
      (c == y[i] ? intra : inter).add(row[c]);
    }
    double entropy = 0;
    for (int64_t c = 0; c < C; ++c) {
      p[c] /= total;
      if (p[c] > 0) entropy -= p[c] * std::log(p[c]);
    }
    max_probs.add(p[arg]);
    entropies.add(C > 1 ? entropy / log_c : 0.0);
  }
}

const std::vector<std::string>& raw_metric_names() {
  static const std::vector<std::string> names = {
      "LOSS",           "ACC1",           "SCALE",          "INTRA_LOGITS MEAN", "INTRA_LOGITS STD", "INTER_LOGITS MEAN",
      "INTER_LOGITS STD", "MAX_PROBS MEAN", "MAX_PROBS STD", "ENTROPIES MEAN",    "ENTROPIES STD"};
  return names;
}

std::vector<double> raw_metric_values(const EpochStats& s) {
  return {s.loss(),           s.accuracy(),      s.scale,           s.intra.mean(),     s.intra.std(), s.inter.mean(),
          s.inter.std(),      s.max_probs.mean(), s.max_probs.std(), s.entropies.mean(), s.entropies.std()};
}

nlohmann::json EpochStats::to_json() const {
  nlohmann::json j;
  const auto& names = raw_metric_names();
  const auto values = raw_metric_values(*this);
  for (size_t i = 0; i < names.size(); ++i) j[names[i]] = values[i];
  return j;
}

namespace {
nlohmann::json moments_json(const Moments& m) { return {m.count, m.sum, m.sumsq}; }
Moments moments_from(const nlohmann::json& j) { return {j.at(0).get<double>(), j.at(1).get<double>(), j.at(2).get<double>()}; }
}  // namespace

nlohmann::json EpochStats::state() const {
  return {{"loss_sum", loss_sum},          {"seen", seen},
          {"correct", correct},            {"scale", scale},
          {"intra", moments_json(intra)},  {"inter", moments_json(inter)},
          {"max_probs", moments_json(max_probs)}, {"entropies", moments_json(entropies)}};
}

EpochStats EpochStats::from_state(const nlohmann::json& j) {
  EpochStats s;
  s.loss_sum = j.at("loss_sum").get<double>();
  s.seen = j.at("seen").get<int64_t>();
  s.correct = j.at("correct").get<int64_t>();
  s.scale = j.at("scale").get<double>();
  s.intra = moments_from(j.at("intra"));
  s.inter = moments_from(j.at("inter"));
  s.max_probs = moments_from(j.at("max_probs"));
  s.entropies = moments_from(j.at("entropies"));
  return s;
}

}  // namespace dismax
