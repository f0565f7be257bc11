#include "tools/eval/evaluator.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "datasets/registry.h"
#include "engine/grad_mode.h"
#include "engine/io/file.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/version.h"
#include "experiment/model_with_loss.h"
#include "experiment/train_config.h"
#include "losses/scores.h"
#include "metrics/calibration.h"
#include "metrics/classification.h"
#include "metrics/ood.h"
#include "tools/common/progress.h"
#include "tools/common/sha256.h"
#include "tools/eval/report.h"

namespace dismax {

namespace fs = std::filesystem;

OodSource parse_ood(const std::string& text) {
  const auto colon = text.find(':');
  DISMAX_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < text.size(), "--ood '", text,
               "': expected NAME:DIR (for instance svhn:data/svhn or lsun_resize:data/LSUN_resize)");
  OodSource s{text.substr(0, colon), "folder", text.substr(colon + 1)};
  for (const auto& n : dataset_names())
    if (n == s.name) s.dataset = n;
  return s;
}

namespace {

struct SetOutputs {
  std::string name;
  Tensor logits;  // (N, C) float32, host
  Tensor labels;  // (N) int64, host
  int64_t skipped = 0;
};

SetOutputs run_model(Model& model, const std::string& name, std::shared_ptr<const Dataset> data,
                     const Transform& transform, const EvalOptions& o, int64_t batch_size, Device device) {
  if (o.max_samples > 0 && o.max_samples < data->size()) {
    std::vector<int64_t> first(static_cast<size_t>(o.max_samples));
    for (int64_t i = 0; i < o.max_samples; ++i) first[i] = i;
    data = std::make_shared<SubsetDataset>(data, first, "first " + std::to_string(o.max_samples));
  }
  DataLoader loader(data, transform, {batch_size, false, false, 0, o.workers, 0});
  loader.start_epoch(0);
  Progress progress("eval " + name, loader.num_batches());
  std::vector<Tensor> logits, labels;
  int64_t done = 0, rows = 0;
  NoGradGuard no_grad;
  while (auto batch = loader.next()) {
    if (batch->size() == 0) {  // every image of the batch was unreadable and skipped
      progress.update(++done, "", 0);
      continue;
    }
    logits.push_back(model.forward(batch->images.to(device)).to(Device::cpu()));
    labels.push_back(batch->labels);
    rows += batch->size();
    progress.update(++done, "", batch->size());
  }
  progress.finish(std::to_string(rows) + " samples");
  DISMAX_CHECK(rows > 0, name, ": no samples to evaluate in ", data->describe(),
               data->size() > 0 ? " (none of its images could be read)" : "");
  return {name, cat(logits, 0), cat(labels, 0), data->size() - rows};
}

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void write_scores_csv(const fs::path& path, const SetOutputs& set, const std::vector<Score>& scores,
                      const std::vector<std::vector<float>>& values, bool with_labels) {
  std::ostringstream out;
  out << "index";
  if (with_labels) out << ",label,prediction";
  for (Score s : scores) out << "," << score_name(s);
  out << "\n";
  const int64_t n = set.logits.size(0);
  const auto labels = set.labels.to_vector<int64_t>();
  const auto predictions = argmax(set.logits, 1).to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    out << i;
    if (with_labels) out << "," << labels[i] << "," << predictions[i];
    for (size_t k = 0; k < scores.size(); ++k) out << "," << exact(values[k][i]);
    out << "\n";
  }
  write_file_atomically(path.string(), out.str());
}

// What the checkpoint and the flags settle before any data is read.
struct EvalContext {
  LoadedModel loaded;
  LossHead* head = nullptr;
  double checkpoint_temperature = 1.0;
  std::optional<TrainConfig> train_config;  // the run's configuration, when the checkpoint records it
  std::string dataset, data_dir;
  int64_t batch_size = 64;
  Device device;
  Numerics numerics = Numerics::Literal;
  std::vector<Score> scores, recommended;
  Transform transform;
};

EvalContext load_context(const EvalOptions& o) {
  EvalContext c;
  c.device = parse_device(o.device);
  DISMAX_CHECK(o.numerics == "literal" || o.numerics == "fused", "--numerics must be literal or fused, got '",
               o.numerics, "'");
  c.numerics = o.numerics == "fused" ? Numerics::Fused : Numerics::Literal;
  c.loaded = load_model(o.checkpoint);
  c.loaded.model->to(c.device);
  c.loaded.model->eval();
  const Metadata& meta = c.loaded.metadata;
  if (meta.count("config")) c.train_config = TrainConfig::parse(meta.at("config"), o.checkpoint + ": metadata 'config'");
  c.dataset = !o.dataset.empty() ? o.dataset : meta.count("dataset") ? meta.at("dataset") : "";
  DISMAX_CHECK(!c.dataset.empty(), o.checkpoint, ": the checkpoint does not name its dataset; pass --dataset");
  c.data_dir = !o.data_dir.empty() ? o.data_dir : (c.train_config ? c.train_config->data_dir : "");
  DISMAX_CHECK(!c.data_dir.empty(), "pass --data-dir (the checkpoint does not record where its data was)");
  c.batch_size = o.batch_size > 0 ? o.batch_size : (c.train_config ? c.train_config->batch_size : 64);
  c.head = dynamic_cast<LossHead*>(&c.loaded.model->head());
  DISMAX_CHECK(c.head != nullptr, o.checkpoint, ": the model's head is not a loss head");
  c.checkpoint_temperature = c.head->temperature();
  if (o.scores.empty()) c.scores = all_scores();
  for (const auto& name : o.scores) c.scores.push_back(parse_score(name));
  c.recommended = recommended_scores(c.loaded.loss.family);
  c.transform = eval_transform(c.dataset);
  return c;
}

// Temperature calibration on the held-out validation split of training when the run had one, else on the
// test set (the paper's protocol).
struct Calibration {
  std::string split;
  CalibrationObjective objective;
  CalibrationResult result;
  int64_t samples = 0;
};

Calibration calibrate(const EvalContext& c, const EvalOptions& o, const Predictions& test) {
  Calibration cal;
  const bool has_validation = c.train_config && c.train_config->validation_split > 0;
  cal.split = !o.calibrate_on.empty() ? o.calibrate_on : has_validation ? "validation" : "test";
  DISMAX_CHECK(cal.split == "validation" || cal.split == "test", "--calibrate-on must be validation or test, got '",
               cal.split, "'");
  DISMAX_CHECK(cal.split == "test" || has_validation, "--calibrate-on validation: ", o.checkpoint,
               " was trained without --validation-split, so no held-out split exists; use --calibrate-on test (the "
               "paper's protocol)");
  if (cal.split == "test" && o.calibrate_on.empty())
    std::fprintf(stderr, "note: calibrating on the test set (the paper's protocol): the run held out no validation "
                         "split\n");
  CalibrationOptions options;
  options.objective = cal.objective = parse_calibration_objective(o.calibration_objective);
  Predictions on = test;
  if (cal.split == "validation") {
    auto parts = split_train_validation(open_dataset(c.dataset, c.data_dir, "train"), c.train_config->validation_split,
                                        c.train_config->seed, true);
    const SetOutputs valid = run_model(*c.loaded.model, "validation", parts.second, c.transform, o, c.batch_size, c.device);
    on = make_predictions(valid.logits, valid.labels);
  }
  cal.result = calibrate_temperature(on, options);
  cal.samples = on.size();
  if (cal.result.at_bound)
    std::fprintf(stderr, "warning: the calibrated temperature %g lies on a search bound (the original drops such runs)\n",
                 cal.result.temperature);
  return cal;
}

std::vector<std::vector<float>> scores_of(const EvalContext& c, const Tensor& logits) {
  std::vector<std::vector<float>> values;
  for (Score s : c.scores) values.push_back(compute_score(logits, s, c.numerics).to_vector<float>());
  return values;
}

// Every OOD set through the model with the checkpoint's temperature (the paper's protocol): per-sample scores
// in scores/ood_<set>.csv, logits into `logits_file`, metrics per score into the report.
void detect_ood(const EvalContext& c, const EvalOptions& o, const fs::path& out, ReportInput& report,
                NamedTensors& logits_file) {
  for (const OodSource& src : o.ood) {
    for (const auto& done : report.ood) DISMAX_CHECK(done.name != src.name, "--ood ", src.name, " is given twice");
    std::shared_ptr<const Dataset> data;
    if (src.dataset == "folder") {
      DatasetOptions dopt;
      dopt.skip_unreadable = true;
      data = std::make_shared<ImageFolderDataset>(src.dir, dopt, src.name);
    } else {
      data = open_dataset(src.dataset, src.dir, "test");
    }
    const SetOutputs set = run_model(*c.loaded.model, src.name, data, c.transform, o, c.batch_size, c.device);
    const auto out_scores = scores_of(c, set.logits);
    write_scores_csv(out / "scores" / ("ood_" + src.name + ".csv"), set, c.scores, out_scores, false);
    logits_file.emplace_back("ood." + src.name + ".logits", set.logits);
    std::vector<OodMetrics> metrics;
    for (size_t k = 0; k < c.scores.size(); ++k) metrics.push_back(ood_metrics(report.in_scores[k], out_scores[k]));
    report.ood.push_back({src.name, metrics, out_scores});
  }
}

// --write-temperature: the checkpoint's temperature times the calibrated one, into the checkpoint.
void write_temperature(EvalContext& c, const EvalOptions& o, const Calibration& cal) {
  const double effective = c.checkpoint_temperature * cal.result.temperature;
  c.head->set_temperature(effective);
  Metadata m = c.loaded.metadata;
  m["temperature"] = exact(effective);
  m["calibration_split"] = cal.split;
  save_checkpoint(o.checkpoint, *c.loaded.model, m);
  std::fprintf(stderr, "wrote temperature %g into %s\n", effective, o.checkpoint.c_str());
}

nlohmann::json results_json(const EvalContext& c, const EvalOptions& o, const ReportInput& r, const Calibration& cal,
                            int64_t test_samples) {
  const Metadata& meta = c.loaded.metadata;
  nlohmann::json ood = nlohmann::json::object();
  for (const OodReport& set : r.ood) {
    nlohmann::json per_score;
    for (size_t k = 0; k < r.scores.size(); ++k) per_score[score_name(r.scores[k])] = ood_json(set.metrics[k]);
    ood[set.name] = per_score;
  }
  std::vector<std::string> recommended;
  for (Score s : r.recommended) recommended.push_back(score_name(s));
  auto meta_or_unknown = [&](const char* key) { return meta.count(key) ? meta.at(key) : std::string("unknown"); };
  return {{"accuracy", r.before.accuracy},
          {"nll", r.after.nll},
          {"ece", r.after.ece},
          {"temperature", c.checkpoint_temperature * cal.result.temperature},
          {"uncalibrated", {{"temperature", c.checkpoint_temperature}, {"nll", r.before.nll}, {"ece", r.before.ece},
                            {"mce", r.before.mce}, {"mean_max_probability", r.before.mean_max_probability},
                            {"mean_normalized_entropy", r.before.mean_normalized_entropy}}},
          {"calibration", {{"split", cal.split}, {"objective", calibration_objective_name(cal.objective)},
                           {"temperature", cal.result.temperature}, {"objective_before", cal.result.before},
                           {"objective_after", cal.result.after}, {"at_bound", cal.result.at_bound},
                           {"mce", r.after.mce}, {"samples", cal.samples}}},
          {"ood_temperature", c.checkpoint_temperature},
          {"ood", ood},
          {"samples", test_samples},
          {"dataset", c.dataset},
          {"model", c.loaded.model->arch()},
          {"loss", c.loaded.loss.str()},
          {"num_classes", c.loaded.model->num_classes()},
          {"recommended_scores", recommended},
          {"numerics", o.numerics},
          {"metadata", {{"checkpoint", o.checkpoint},
                        {"checkpoint_sha256", sha256_file(o.checkpoint)},
                        {"engine_version", engine_version()},
                        {"git_revision", git_revision()},
                        {"checkpoint_git_revision", meta_or_unknown("git_revision")},
                        {"seed", meta_or_unknown("seed")},
                        {"epoch", meta_or_unknown("epoch")}}}};
}

}  // namespace

std::string evaluate(const EvalOptions& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  EvalContext c = load_context(o);
  Model& model = *c.loaded.model;
  const fs::path out(o.out);
  fs::create_directories(out / "scores");
  std::fprintf(stderr, "dismax-eval %s (%s): %s (%s, %s, T = %g) on %s\n", engine_version(), git_revision(),
               o.checkpoint.c_str(), model.arch().c_str(), c.loaded.loss.str().c_str(), c.checkpoint_temperature,
               c.dataset.c_str());

  // In-distribution test set: classification, calibration, and the scores OOD sets are compared with.
  const SetOutputs test =
      run_model(model, c.dataset, open_dataset(c.dataset, c.data_dir, "test"), c.transform, o, c.batch_size, c.device);
  const Predictions test_pred = make_predictions(test.logits, test.labels);
  const Calibration cal = calibrate(c, o, test_pred);
  ReportInput report{model.arch(), c.loaded.loss.str(), c.dataset, classification_metrics(test_pred),
                     classification_metrics(test_pred, cal.result.temperature), cal.result, cal.split,
                     c.checkpoint_temperature, c.recommended, c.scores, scores_of(c, test.logits), {}};
  write_scores_csv(out / "scores" / ("in_" + c.dataset + ".csv"), test, c.scores, report.in_scores, true);
  NamedTensors logits_file{{"in." + c.dataset + ".logits", test.logits}, {"in." + c.dataset + ".labels", test.labels}};

  detect_ood(c, o, out, report, logits_file);
  save_safetensors((out / "logits.safetensors").string(), logits_file, {{"checkpoint", o.checkpoint}});
  if (o.write_temperature) write_temperature(c, o, cal);

  const std::string text = results_json(c, o, report, cal, test.logits.size(0)).dump(2) + "\n";
  write_file_atomically((out / "results.json").string(), text);
  write_file_atomically((out / "results.md").string(), markdown_report(report));
  write_file_atomically((out / "ood_metrics.csv").string(), ood_metrics_csv(report));
  if (o.plots) write_plots(report, out / "plots");
  return text;
}

}  // namespace dismax
