#include "tools/eval/evaluator.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "engine/grad_mode.h"
#include "engine/io/file.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/version.h"
#include "experiment/model_with_loss.h"
#include "metrics/calibration.h"
#include "metrics/classification.h"
#include "metrics/ood.h"
#include "losses/scores.h"
#include "tools/common/progress.h"
#include "tools/common/sha256.h"
#include "tools/eval/report.h"
#include "tools/train/train_config.h"

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

}  // namespace

std::string evaluate(const EvalOptions& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  const Device device = parse_device(o.device);
  DISMAX_CHECK(o.numerics == "literal" || o.numerics == "fused", "--numerics must be literal or fused, got '",
               o.numerics, "'");
  const Numerics numerics = o.numerics == "fused" ? Numerics::Fused : Numerics::Literal;
  LoadedModel loaded = load_model(o.checkpoint);
  Model& model = *loaded.model;
  model.to(device);
  model.eval();
  const Metadata& meta = loaded.metadata;
  TrainConfig train_config;
  const bool has_config = meta.count("config") > 0;
  if (has_config) {
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(meta.at("config"));
    } catch (const nlohmann::json::exception& e) {
      DISMAX_FAIL(o.checkpoint, ": metadata 'config' is not valid JSON (", e.what(), ")");
    }
    train_config = TrainConfig::from_json(config, o.checkpoint);
  }
  const std::string dataset = !o.dataset.empty() ? o.dataset
                              : meta.count("dataset") ? meta.at("dataset")
                                                      : "";
  DISMAX_CHECK(!dataset.empty(), o.checkpoint, ": the checkpoint does not name its dataset; pass --dataset");
  const std::string data_dir = !o.data_dir.empty() ? o.data_dir : (has_config ? train_config.data_dir : "");
  DISMAX_CHECK(!data_dir.empty(), "pass --data-dir (the checkpoint does not record where its data was)");
  const int64_t batch_size = o.batch_size > 0 ? o.batch_size : (has_config ? train_config.batch_size : 64);
  auto* head = dynamic_cast<LossHead*>(&model.head());
  DISMAX_CHECK(head != nullptr, o.checkpoint, ": the model's head is not a loss head");
  const double checkpoint_temperature = head->temperature();

  std::vector<Score> scores;
  if (o.scores.empty()) scores = all_scores();
  for (const auto& s : o.scores) scores.push_back(parse_score(s));
  const std::vector<Score> recommended = recommended_scores(loaded.loss.family);

  const fs::path out(o.out);
  fs::create_directories(out / "scores");
  const Transform transform = eval_transform(dataset);
  std::fprintf(stderr, "dismax-eval %s (%s): %s (%s, %s, T = %g) on %s\n", engine_version(), git_revision(),
               o.checkpoint.c_str(), model.arch().c_str(), loaded.loss.str().c_str(), checkpoint_temperature,
               dataset.c_str());

  // ---- in-distribution test set: classification metrics
  const SetOutputs test = run_model(model, dataset, open_dataset(dataset, data_dir, "test"), transform, o, batch_size,
                                    device);
  const Predictions test_pred = make_predictions(test.logits, test.labels);
  const ClassificationMetrics before = classification_metrics(test_pred);

  // ---- calibration: the held-out validation split of training when the run had one, else the test set
  std::string split = o.calibrate_on;
  const bool has_validation = has_config && train_config.validation_split > 0;
  if (split.empty()) split = has_validation ? "validation" : "test";
  DISMAX_CHECK(split == "validation" || split == "test", "--calibrate-on must be validation or test, got '", split, "'");
  DISMAX_CHECK(split == "test" || has_validation, "--calibrate-on validation: ", o.checkpoint,
               " was trained without --validation-split, so no held-out split exists; use --calibrate-on test (the "
               "paper's protocol)");
  if (split == "test" && o.calibrate_on.empty())
    std::fprintf(stderr, "note: calibrating on the test set (the paper's protocol): the run held out no validation "
                         "split\n");
  CalibrationOptions cal_options;
  cal_options.objective = parse_calibration_objective(o.calibration_objective);
  Predictions cal_pred = test_pred;
  if (split == "validation") {
    auto parts = split_train_validation(open_dataset(dataset, data_dir, "train"), train_config.validation_split,
                                        train_config.seed, true);
    const SetOutputs valid = run_model(model, "validation", parts.second, transform, o, batch_size, device);
    cal_pred = make_predictions(valid.logits, valid.labels);
  }
  const CalibrationResult cal = calibrate_temperature(cal_pred, cal_options);
  const ClassificationMetrics after = classification_metrics(test_pred, cal.temperature);
  if (cal.at_bound)
    std::fprintf(stderr, "warning: the calibrated temperature %g lies on a search bound (the original drops such runs)\n",
                 cal.temperature);

  // ---- OOD detection with the checkpoint's temperature (the paper's protocol)
  std::vector<std::vector<float>> in_scores;
  for (Score s : scores) in_scores.push_back(compute_score(test.logits, s, numerics).to_vector<float>());
  write_scores_csv(out / "scores" / ("in_" + dataset + ".csv"), test, scores, in_scores, true);
  NamedTensors logits_file{{"in." + dataset + ".logits", test.logits}, {"in." + dataset + ".labels", test.labels}};
  nlohmann::json ood = nlohmann::json::object();
  ReportInput report{model.arch(), loaded.loss.str(), dataset, before, after, cal, split, checkpoint_temperature,
                     recommended, scores, {}};
  for (const OodSource& src : o.ood) {
    DISMAX_CHECK(!ood.contains(src.name), "--ood ", src.name, " is given twice");
    std::shared_ptr<const Dataset> data;
    if (src.dataset == "folder") {
      DatasetOptions dopt;
      dopt.skip_unreadable = true;
      data = std::make_shared<ImageFolderDataset>(src.dir, dopt, src.name);
    } else {
      data = open_dataset(src.dataset, src.dir, "test");
    }
    const SetOutputs set = run_model(model, src.name, data, transform, o, batch_size, device);
    std::vector<std::vector<float>> out_scores;
    for (Score s : scores) out_scores.push_back(compute_score(set.logits, s, numerics).to_vector<float>());
    write_scores_csv(out / "scores" / ("ood_" + src.name + ".csv"), set, scores, out_scores, false);
    logits_file.emplace_back("ood." + src.name + ".logits", set.logits);
    nlohmann::json per_score;
    std::vector<OodMetrics> metrics;
    for (size_t k = 0; k < scores.size(); ++k) {
      metrics.push_back(ood_metrics(in_scores[k], out_scores[k]));
      per_score[score_name(scores[k])] = ood_json(metrics.back());
    }
    ood[src.name] = per_score;
    report.ood.push_back({src.name, metrics, in_scores, out_scores});
  }
  save_safetensors((out / "logits.safetensors").string(), logits_file, {{"checkpoint", o.checkpoint}});

  if (o.write_temperature) {
    const double effective = checkpoint_temperature * cal.temperature;
    head->set_temperature(effective);
    Metadata m = meta;
    m["temperature"] = exact(effective);
    m["calibration_split"] = split;
    save_checkpoint(o.checkpoint, model, m);
    std::fprintf(stderr, "wrote temperature %g into %s\n", effective, o.checkpoint.c_str());
  }

  nlohmann::json results = {
      {"accuracy", before.accuracy},
      {"nll", after.nll},
      {"ece", after.ece},
      {"temperature", checkpoint_temperature * cal.temperature},
      {"uncalibrated", {{"temperature", checkpoint_temperature}, {"nll", before.nll}, {"ece", before.ece},
                        {"mce", before.mce}, {"mean_max_probability", before.mean_max_probability},
                        {"mean_normalized_entropy", before.mean_normalized_entropy}}},
      {"calibration", {{"split", split}, {"objective", calibration_objective_name(cal_options.objective)},
                       {"temperature", cal.temperature}, {"objective_before", cal.before},
                       {"objective_after", cal.after}, {"at_bound", cal.at_bound}, {"mce", after.mce},
                       {"samples", cal_pred.size()}}},
      {"ood_temperature", checkpoint_temperature},
      {"ood", ood},
      {"samples", test.logits.size(0)},
      {"dataset", dataset},
      {"model", model.arch()},
      {"loss", loaded.loss.str()},
      {"num_classes", model.num_classes()},
      {"recommended_scores", [&] {
         std::vector<std::string> names;
         for (Score s : recommended) names.push_back(score_name(s));
         return names;
       }()},
      {"numerics", o.numerics},
      {"metadata", {{"checkpoint", o.checkpoint},
                    {"checkpoint_sha256", sha256_file(o.checkpoint)},
                    {"engine_version", engine_version()},
                    {"git_revision", git_revision()},
                    {"checkpoint_git_revision", meta.count("git_revision") ? meta.at("git_revision") : "unknown"},
                    {"seed", meta.count("seed") ? meta.at("seed") : "unknown"},
                    {"epoch", meta.count("epoch") ? meta.at("epoch") : "unknown"}}}};
  const std::string text = results.dump(2) + "\n";
  write_file_atomically((out / "results.json").string(), text);
  write_file_atomically((out / "results.md").string(), markdown_report(report));
  write_file_atomically((out / "ood_metrics.csv").string(), ood_metrics_csv(report));
  if (o.plots) write_plots(report, out / "plots");
  return text;
}

}  // namespace dismax
