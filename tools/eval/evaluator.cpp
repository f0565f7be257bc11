#include "tools/eval/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/dataset.h"
#include "datasets/image_list.h"
#include "datasets/loader.h"
#include "datasets/registry.h"
#include "engine/grad_mode.h"
#include "engine/io/file.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/version.h"
#include "experiment/model_with_loss.h"
#include "experiment/openood_benchmark.h"
#include "experiment/train_config.h"
#include "losses/scores.h"
#include "metrics/calibration.h"
#include "metrics/classification.h"
#include "metrics/ood.h"
#include "tools/common/progress.h"
#include "tools/common/sha256.h"
#include "tools/eval/forward_pass.h"
#include "tools/eval/report.h"

namespace dismax {

namespace fs = std::filesystem;

OodSource parse_ood(const std::string& text, const std::string& group) {
  const char* flag = group == "near" ? "--near-ood" : group == "far" ? "--far-ood" : "--ood";
  const auto colon = text.find(':');
  DISMAX_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < text.size(), flag, " '", text,
               "': expected NAME:DIR (for instance svhn:data/svhn or lsun_resize:data/LSUN_resize)");
  OodSource s{text.substr(0, colon), "folder", text.substr(colon + 1), group};
  for (const auto& n : dataset_names())
    if (n == s.name) s.dataset = n;
  return s;
}

namespace {

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void write_scores_csv(const fs::path& path, const SetOutputs& set, const std::vector<std::string>& methods,
                      const std::vector<std::vector<double>>& values, bool with_labels) {
  std::ostringstream out;
  out << "index";
  if (with_labels) out << ",label,prediction";
  for (const auto& m : methods) out << "," << m;
  out << "\n";
  const int64_t n = set.size();
  const auto labels = set.outputs.labels.to_vector<int64_t>();
  const auto predictions = argmax(set.outputs.logits, 1).to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    out << i;
    if (with_labels) out << "," << labels[i] << "," << predictions[i];
    for (size_t k = 0; k < methods.size(); ++k) out << "," << exact(values[k][i]);
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
  const OpenOodBenchmark* benchmark = nullptr;
  std::string data_root;
  Transform transform;
  ForwardOptions forward;
  // The OOD methods in output order; methods[k] is computed by posthoc[k] (null for odin).
  std::vector<std::string> methods, recommended;
  std::vector<std::unique_ptr<PosthocMethod>> posthoc;
  std::map<std::string, std::string> undefined;  // asked for, but without a value for this head
  // Wall time: the shared forward passes (with data loading), ODIN's extra passes, the other methods.
  mutable double forward_seconds = 0, odin_seconds = 0, method_seconds = 0, fit_seconds = 0;
  mutable int64_t forward_images = 0;
  const SetOutputs& timed(const SetOutputs& set) const {
    forward_seconds += set.forward_seconds;
    forward_images += set.size();
    odin_seconds += set.odin_seconds;
    return set;
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void choose_methods(EvalContext& c, const EvalOptions& o) {
  std::vector<std::string> asked = o.methods;
  if (asked.empty())
    for (Score s : all_scores()) asked.push_back(score_name(s));
  PosthocOptions options = o.posthoc;
  options.numerics = o.numerics == "fused" ? Numerics::Fused : Numerics::Literal;
  for (const auto& name : asked) {
    const std::string method = canonical_method_name(name);
    if (std::find(c.methods.begin(), c.methods.end(), method) != c.methods.end() || c.undefined.count(method)) continue;
    std::unique_ptr<PosthocMethod> m;
    if (method == "odin") {
      c.forward.odin = true;
      c.forward.odin_temperature = options.odin_temperature;
      c.forward.odin_noise = options.odin_noise;
      c.forward.channel_std = normalization_for(c.dataset).std;
    } else {
      m = make_posthoc_method(method, *c.head, options);
      if (!m->undefined_reason().empty()) {
        std::fprintf(stderr, "note: %s is %s\n", method.c_str(), m->undefined_reason().c_str());
        c.undefined[method] = m->undefined_reason();
        continue;
      }
    }
    c.methods.push_back(method);
    c.posthoc.push_back(std::move(m));
  }
  for (Score s : recommended_scores(c.loaded.loss.family)) c.recommended.push_back(score_name(s));
}

EvalContext load_context(const EvalOptions& o) {
  EvalContext c;
  c.forward.device = parse_device(o.device);
  DISMAX_CHECK(o.numerics == "literal" || o.numerics == "fused", "--numerics must be literal or fused, got '",
               o.numerics, "'");
  DISMAX_CHECK(o.fit_subset >= 0, "--fit-subset must be >= 0 (0 = all training features), got ", o.fit_subset);
  DISMAX_CHECK(!o.write_temperature || !is_torch_checkpoint(o.checkpoint), "--write-temperature: ", o.checkpoint,
               " is a PyTorch .pth; convert it with dismax-convert first, and calibrate that");
  CheckpointDescription description{o.model, o.loss, o.dataset, o.config_string};
  description.width = o.width;
  c.loaded = load_model(o.checkpoint, description);
  c.loaded.model->to(c.forward.device);
  c.loaded.model->eval();
  const Metadata& meta = c.loaded.metadata;
  if (meta.count("config")) c.train_config = TrainConfig::parse(meta.at("config"), o.checkpoint + ": metadata 'config'");
  c.dataset = !o.dataset.empty() ? o.dataset : meta.count("dataset") ? meta.at("dataset") : "";
  DISMAX_CHECK(!c.dataset.empty(), o.checkpoint, ": the checkpoint does not name its dataset; pass --dataset");
  c.data_dir = !o.data_dir.empty() ? o.data_dir : (c.train_config ? c.train_config->data_dir : "");
  DISMAX_CHECK(o.data_root.empty() || !o.benchmark.empty(), "--data-root is read only with --benchmark");
  if (!o.benchmark.empty()) {
    c.benchmark = &openood_benchmark(o.benchmark);
    DISMAX_CHECK(!o.data_root.empty(), "--benchmark ", o.benchmark, " needs --data-root (OpenOOD's data folder)");
    DISMAX_CHECK(c.benchmark->dataset == c.dataset, "--benchmark ", o.benchmark, " is for models trained on ",
                 c.benchmark->dataset, "; ", o.checkpoint, " was trained on ", c.dataset);
    c.data_root = o.data_root;
  } else {
    DISMAX_CHECK(!c.data_dir.empty(), "pass --data-dir (the checkpoint does not record where its data was)");
  }
  c.forward.batch_size = o.batch_size > 0 ? o.batch_size : (c.train_config ? c.train_config->batch_size : 64);
  c.forward.workers = o.workers;
  c.forward.max_samples = o.max_samples;
  c.head = dynamic_cast<LossHead*>(&c.loaded.model->head());
  DISMAX_CHECK(c.head != nullptr, o.checkpoint, ": the model's head is not a loss head");
  c.checkpoint_temperature = c.head->temperature();
  c.transform = eval_transform(c.dataset);
  choose_methods(c, o);
  return c;
}

std::shared_ptr<const Dataset> open_list(const std::string& root, const BenchmarkList& l, int64_t classes,
                                         bool skip_unreadable) {
  DatasetOptions options;
  options.skip_unreadable = skip_unreadable;
  const fs::path r(root);
  return std::make_shared<ImageListDataset>((r / l.list).string(), (r / l.images).string(), classes, l.name, options);
}

// A split of the in-distribution set (a benchmark's list, or the dataset's split), restricted to the classes
// the run trained on.
std::shared_ptr<const Dataset> in_distribution(const EvalContext& c, const std::string& split) {
  std::shared_ptr<const Dataset> data =
      c.benchmark ? open_list(c.data_root, split == "train" ? c.benchmark->train : c.benchmark->test,
                              c.benchmark->num_classes, false)
                  : open_dataset(c.dataset, c.data_dir, split);
  return c.train_config ? with_config_classes(data, *c.train_config) : data;
}

// The in-distribution training split as the run trained on it (without its validation part; a benchmark's
// training list is used whole, as its order is not the one the run's split was drawn from).
std::shared_ptr<const Dataset> training_split(const EvalContext& c) {
  std::shared_ptr<const Dataset> train = in_distribution(c, "train");
  if (!c.benchmark && c.train_config && c.train_config->validation_split > 0)
    train = split_train_validation(train, c.train_config->validation_split, c.train_config->seed, true).first;
  return train;
}

// Fits the methods that need the in-distribution training features; returns those features (for
// --save-features), or an empty set when no method needs them.
FeatureSet fit_methods(EvalContext& c, const EvalOptions& o) {
  std::string needing;
  for (const auto& m : c.posthoc)
    if (m && m->needs_training_features()) needing += (needing.empty() ? "" : ", ") + m->name();
  if (needing.empty()) return {};
  std::shared_ptr<const Dataset> train;
  try {
    train = training_split(c);
  } catch (const Error& e) {
    DISMAX_FAIL("--methods ", needing, " fit on the in-distribution training features, which cannot be read: ", e.what());
  }
  DISMAX_CHECK(train->size() > 0, "--methods ", needing, ": the in-distribution training split is empty");
  if (o.fit_subset > 0 && o.fit_subset < train->size()) {
    Generator gen(0);
    std::vector<int64_t> pick = randperm(train->size(), gen).to_vector<int64_t>();
    pick.resize(static_cast<size_t>(o.fit_subset));
    std::sort(pick.begin(), pick.end());
    train = std::make_shared<SubsetDataset>(train, pick, "--fit-subset");
  }
  std::fprintf(stderr, "fitting %s on %ld training features of %s\n", needing.c_str(), static_cast<long>(train->size()),
               c.dataset.c_str());
  ForwardOptions forward = c.forward;
  forward.odin = false;
  forward.max_samples = 0;
  const SetOutputs set = c.timed(forward_pass(*c.loaded.model, "fit (train)", train, c.transform, forward));
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& m : c.posthoc)
    if (m && m->needs_training_features()) m->fit(set.outputs);
  c.fit_seconds += seconds_since(t0);
  return set.outputs;
}

std::vector<std::vector<double>> method_scores(const EvalContext& c, const SetOutputs& set) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<double>> values;
  for (size_t k = 0; k < c.methods.size(); ++k)
    values.push_back((c.posthoc[k] ? c.posthoc[k]->score(set.outputs) : set.odin).to_vector<double>());
  c.method_seconds += seconds_since(t0);
  return values;
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
  DISMAX_CHECK(cal.split == "test" || !c.benchmark, "--benchmark: the held-out split of ", o.checkpoint,
               "'s training cannot be found in OpenOOD's image lists; pass --calibrate-on test");
  if (cal.split == "test" && o.calibrate_on.empty())
    std::fprintf(stderr, "note: calibrating on the test set (the paper's protocol): the run held out no validation "
                         "split\n");
  CalibrationOptions options;
  options.objective = cal.objective = parse_calibration_objective(o.calibration_objective);
  Predictions on = test;
  if (cal.split == "validation") {
    auto parts = split_train_validation(in_distribution(c, "train"), c.train_config->validation_split,
                                        c.train_config->seed, true);
    ForwardOptions forward = c.forward;
    forward.odin = false;
    const SetOutputs valid = forward_pass(*c.loaded.model, "validation", parts.second, c.transform, forward);
    on = make_predictions(valid.outputs.logits, valid.outputs.labels);
  }
  cal.result = calibrate_temperature(on, options);
  cal.samples = on.size();
  if (cal.result.at_bound)
    std::fprintf(stderr, "warning: the calibrated temperature %g lies on a search bound (the original drops such runs)\n",
                 cal.result.temperature);
  return cal;
}

// Every OOD set through the model with the checkpoint's temperature (the paper's protocol): per-sample scores
// in scores/ood_<set>.csv, outputs into `saved`, metrics per method into the report.
void detect_ood(const EvalContext& c, const EvalOptions& o, const fs::path& out, ReportInput& report,
                NamedTensors& logits_file, NamedTensors& features_file) {
  std::vector<OodSource> sources;
  if (c.benchmark)
    for (const BenchmarkList& l : c.benchmark->ood)
      sources.push_back({l.name, "list", (fs::path(c.data_root) / l.images).string(), l.group,
                         (fs::path(c.data_root) / l.list).string()});
  sources.insert(sources.end(), o.ood.begin(), o.ood.end());
  for (const OodSource& src : sources) {
    for (const auto& done : report.ood)
      DISMAX_CHECK(done.name != src.name, "OOD set '", src.name, "' is given twice (--ood, --near-ood, --far-ood and "
                   "the benchmark's sets share one namespace)");
    std::shared_ptr<const Dataset> data;
    if (!src.list.empty()) {
      DatasetOptions dopt;
      dopt.skip_unreadable = true;
      data = std::make_shared<ImageListDataset>(src.list, src.dir, 0, src.name, dopt);
    } else if (src.dataset == "folder") {
      DatasetOptions dopt;
      dopt.skip_unreadable = true;
      data = std::make_shared<ImageFolderDataset>(src.dir, dopt, src.name);
    } else {
      data = open_dataset(src.dataset, src.dir, "test");
    }
    const SetOutputs set = c.timed(forward_pass(*c.loaded.model, src.name, data, c.transform, c.forward));
    const auto out_scores = method_scores(c, set);
    write_scores_csv(out / "scores" / ("ood_" + src.name + ".csv"), set, c.methods, out_scores, false);
    logits_file.emplace_back("ood." + src.name + ".logits", set.outputs.logits);
    features_file.emplace_back("ood." + src.name + ".features", set.outputs.features);
    features_file.emplace_back("ood." + src.name + ".logits", set.outputs.logits);
    std::vector<OodMetrics> metrics;
    for (size_t k = 0; k < c.methods.size(); ++k) metrics.push_back(ood_metrics(report.in_scores[k], out_scores[k]));
    report.ood.push_back({src.name, src.group, metrics, out_scores});
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
    nlohmann::json per_method;
    for (size_t k = 0; k < r.methods.size(); ++k) per_method[r.methods[k]] = ood_json(set.metrics[k]);
    ood[set.name] = per_method;
  }
  nlohmann::json groups = nlohmann::json::object();
  for (const OodReport& set : r.ood)
    if (!set.group.empty()) groups[set.group].push_back(set.name);
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
          {"ood_groups", groups},
          {"methods", r.methods},
          {"undefined_methods", r.undefined},
          {"samples", test_samples},
          {"dataset", c.dataset},
          {"model", c.loaded.model->arch()},
          {"loss", c.loaded.loss.str()},
          {"num_classes", c.loaded.model->num_classes()},
          {"recommended_scores", r.recommended},
          {"numerics", o.numerics},
          {"timing_seconds", {{"forward_passes", c.forward_seconds}, {"odin", c.odin_seconds},
                              {"methods_fit", c.fit_seconds}, {"methods_score", c.method_seconds}}},
          {"forward_images", c.forward_images},
          {"forward_images_per_second", c.forward_seconds > 0 ? c.forward_images / c.forward_seconds : 0.0},
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
  const SetOutputs test = c.timed(forward_pass(model, c.dataset, in_distribution(c, "test"), c.transform, c.forward));
  const Predictions test_pred = make_predictions(test.outputs.logits, test.outputs.labels);
  const Calibration cal = calibrate(c, o, test_pred);
  const FeatureSet train = fit_methods(c, o);
  ReportInput report{model.arch(), c.loaded.loss.str(), c.dataset, classification_metrics(test_pred),
                     classification_metrics(test_pred, cal.result.temperature), cal.result, cal.split,
                     c.checkpoint_temperature, c.recommended, c.methods, method_scores(c, test), {}, c.undefined};
  write_scores_csv(out / "scores" / ("in_" + c.dataset + ".csv"), test, c.methods, report.in_scores, true);
  const std::string in = "in." + c.dataset;
  NamedTensors logits_file{{in + ".logits", test.outputs.logits}, {in + ".labels", test.outputs.labels}};
  NamedTensors features_file{{in + ".features", test.outputs.features}, {in + ".logits", test.outputs.logits},
                             {in + ".labels", test.outputs.labels}};
  if (train.features.defined()) {
    features_file.emplace_back("train.features", train.features);
    features_file.emplace_back("train.logits", train.logits);
    features_file.emplace_back("train.labels", train.labels);
  }

  detect_ood(c, o, out, report, logits_file, features_file);
  save_safetensors((out / "logits.safetensors").string(), logits_file, {{"checkpoint", o.checkpoint}});
  if (o.save_features)
    save_safetensors((out / "features.safetensors").string(), features_file,
                     {{"checkpoint", o.checkpoint}, {"head", model.head().type_name()}});
  if (o.write_temperature) write_temperature(c, o, cal);

  std::fprintf(stderr, "time: forward passes %.1f s, ODIN %.1f s, other methods %.2f s (fit %.2f s, score %.2f s)\n",
               c.forward_seconds, c.odin_seconds, c.fit_seconds + c.method_seconds, c.fit_seconds, c.method_seconds);
  const std::string text = results_json(c, o, report, cal, test.size()).dump(2) + "\n";
  write_file_atomically((out / "results.json").string(), text);
  write_file_atomically((out / "results.md").string(), markdown_report(report));
  write_file_atomically((out / "ood_metrics.csv").string(), ood_metrics_csv(report));
  write_file_atomically((out / "ood.csv").string(), openood_csv(report));
  if (o.plots) write_plots(report, out / "plots");
  return text;
}

}  // namespace dismax
