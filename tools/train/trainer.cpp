#include "tools/train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

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
#include "layers/lr_schedule.h"
#include "layers/sgd.h"
#include "losses/scores.h"
#include "losses/thresholds.h"
#include "models/checkpoint.h"
#include "tools/common/folder_lock.h"
#include "tools/common/progress.h"
#include "tools/common/signals.h"
#include "tools/train/epoch_stats.h"

namespace dismax {

namespace fs = std::filesystem;

namespace {

// One batch's results, still on the training device.
struct PendingBatch {
  int64_t index;
  Tensor loss, logits, targets;
  int64_t size;
};

struct Paths {
  fs::path out;
  fs::path config() const { return out / "config.json"; }
  fs::path best() const { return out / "best.safetensors"; }
  fs::path last() const { return out / "last.safetensors"; }
  fs::path state() const { return out / "last.state.safetensors"; }
  fs::path raw() const { return out / "results_raw.csv"; }
  fs::path best_csv() const { return out / "results_best.csv"; }
  fs::path history() const { return out / "history.jsonl"; }
  fs::path arch() const { return out / "model.arch"; }
};

std::unique_ptr<LrSchedule> make_schedule(const TrainConfig& c) {
  std::unique_ptr<LrSchedule> s;
  if (c.schedule == "cosine") s = std::make_unique<CosineAnnealingLR>(c.lr, c.epochs, c.min_lr);
  else if (c.schedule == "cosine-iter") s = std::make_unique<IterationCosineLR>(c.lr, c.epochs, c.min_lr);
  else s = std::make_unique<MultiStepLR>(c.lr, c.milestones, c.gamma);
  if (c.warmup_epochs > 0) s = std::make_unique<LinearWarmupLR>(c.lr, c.warmup_epochs, std::move(s));
  return s;
}

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string short_status(const EpochStats& s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %.4f acc %.2f%%", s.loss(), s.accuracy());
  return buf;
}

// Rows of results_raw.csv (SPEC §5.4 layout) for one set.
void append_raw_rows(const fs::path& path, const TrainConfig& c, int64_t epoch, const char* set, const EpochStats& s) {
  std::ofstream out(path, std::ios::app);
  const auto& names = raw_metric_names();
  const auto values = raw_metric_values(s);
  for (size_t i = 0; i < names.size(); ++i) {
    char value[32];
    std::snprintf(value, sizeof value, "%.9g", values[i]);
    out << c.dataset << ',' << c.model << ',' << c.loss << ",1," << epoch << ',' << set << ',' << names[i] << ','
        << value << '\n';
  }
  DISMAX_CHECK(out.good(), path.string(), ": write failed");
}

void write_best_csv(const fs::path& path, const TrainConfig& c, int64_t epoch, const EpochStats& train,
                    const EpochStats& valid) {
  std::string header = "DATA,MODEL,LOSS,EXECUTION,EPOCH", row;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%ld", static_cast<long>(epoch));
  row = c.dataset + "," + c.model + "," + c.loss + ",1," + buf;
  for (const auto& [set, stats] : {std::pair<const char*, const EpochStats*>{"TRAIN", &train}, {"VALID", &valid}}) {
    const auto values = raw_metric_values(*stats);
    for (size_t i = 0; i < values.size(); ++i) {
      header += std::string(",") + set + " " + raw_metric_names()[i];
      std::snprintf(buf, sizeof buf, ",%.9g", values[i]);
      row += buf;
    }
  }
  write_file_atomically(path.string(), header + "\n" + row + "\n");
}

// The saved configuration of the run in `paths` for --resume: the device, threads, workers and output
// folder are the ones asked for now.
TrainConfig saved_configuration(const Paths& paths, const TrainConfig& requested) {
  DISMAX_CHECK(fs::exists(paths.config()) && fs::exists(paths.last()), "--resume: ", paths.out.string(),
               " has no config.json and last.safetensors to resume from");
  TrainConfig config = TrainConfig::parse(read_whole_file(paths.config().string(), "run configuration"),
                                          paths.config().string());
  config.device = requested.device;
  config.threads = requested.threads;
  config.workers = requested.workers;
  config.out = requested.out;
  try {
    config.validate();
  } catch (const Error& e) {
    DISMAX_FAIL(paths.config().string(), ": ", e.what());
  }
  return config;
}

// The training set (a validation part held out or a subset taken as asked) and the validation set.
struct RunData {
  std::shared_ptr<const Dataset> train, valid;
  int64_t classes = 0;
};

RunData open_data(const TrainConfig& config) {
  RunData d;
  d.train = with_config_classes(open_dataset(config.dataset, config.data_dir, "train"), config);
  if (config.validation_split > 0) {
    std::tie(d.train, d.valid) = split_train_validation(d.train, config.validation_split, config.seed, true);
  } else {
    d.valid = with_config_classes(open_dataset(config.dataset, config.data_dir, "test"), config);
  }
  if (config.train_subset > 0 && config.train_subset < d.train->size()) {
    std::vector<int64_t> order(static_cast<size_t>(d.train->size()));
    for (int64_t i = 0; i < d.train->size(); ++i) order[i] = i;
    std::mt19937_64 rng(config.seed);
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(static_cast<size_t>(config.train_subset));
    std::sort(order.begin(), order.end());
    d.train = std::make_shared<SubsetDataset>(d.train, order, "training subset");
  }
  DISMAX_CHECK(d.train->size() > 0, config.dataset, ": the training set in ", config.data_dir, " is empty");
  DISMAX_CHECK(d.valid->size() > 0, config.dataset, ": the validation set (",
               config.validation_split > 0 ? "--validation-split" : "the test split", ") is empty");
  d.classes = d.train->num_classes();
  const int64_t expected =
      config.classes.empty() ? dataset_info(config.dataset).num_classes : static_cast<int64_t>(config.classes.size());
  DISMAX_CHECK(expected == 0 || expected == d.classes, config.dataset, ": expected ", expected, " classes, found ",
               d.classes, " in ", config.data_dir);
  return d;
}

// Where the run stands: the next epoch and batch, the partial statistics of an interrupted epoch, the best
// validation accuracy so far.
struct RunPosition {
  int64_t epoch = 0, batch = 0;
  EpochStats train_stats;
  double best_acc = 0;  // percent
  int64_t best_epoch = 0;
};

// One training run after its configuration is settled: the data, the model with its loss and optimiser,
// and the files in the output folder. train() below reads as the sequence of its phases.
class TrainingRun {
 public:
  TrainingRun(TrainConfig config, Paths paths)
      : config_(std::move(config)),
        paths_(std::move(paths)),
        device_(parse_device(config_.device)),
        sync_every_(device_.is_cpu() ? 1 : 20),
        data_(open_data(config_)),
        train_loader_(data_.train, training_transform(config_.dataset, config_.augment), loader_options(true)),
        valid_loader_(data_.valid, eval_transform(config_.dataset), loader_options(false)),
        batches_per_epoch_(config_.max_train_batches > 0
                               ? std::min(config_.max_train_batches, train_loader_.num_batches())
                               : train_loader_.num_batches()),
        batch_gen_(config_.seed * 0x9E3779B97F4A7C15ULL + 1) {  // preprocess shuffles and FPR
    build_model();
  }

  void restore(int64_t extend_epochs);
  void start_outputs();
  TrainOutcome run_epochs();

 private:
  LoaderOptions loader_options(bool shuffle) const {
    const bool pin = device_.is_cuda();  // the workers stage batches in pinned memory: uploads overlap compute
    return {config_.batch_size, shuffle, false, config_.seed, config_.workers, 0, pin};
  }
  void build_model();
  bool train_epoch(int64_t epoch);  // false when a stop was requested (the run is saved)
  EpochStats validate(int64_t epoch);
  void record_epoch(int64_t epoch, const EpochStats& valid_stats);
  void save_last(int64_t epoch, int64_t batch, const EpochStats& partial);
  std::string last_good() const;  // for messages: every checkpoint on disk was checked finite when written

  TrainConfig config_;
  Paths paths_;
  Device device_;
  int64_t sync_every_;  // batches between device-to-host read-backs
  RunData data_;
  DataLoader train_loader_, valid_loader_;
  int64_t batches_per_epoch_;
  // Wall time and images of this process's part of the last training epoch (loading included), for history.jsonl.
  double epoch_seconds_ = 0;
  int64_t epoch_images_ = 0;
  LossSpec spec_;
  std::shared_ptr<Model> model_;
  std::shared_ptr<Criterion> criterion_;
  std::unique_ptr<SGD> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  Generator batch_gen_;
  Metadata meta_;
  RunPosition at_;
};

void TrainingRun::build_model() {
  spec_ = parse_loss(config_.loss);
  spec_.numerics = config_.numerics == "fused" ? Numerics::Fused : Numerics::Literal;
  spec_.label_smoothing = config_.label_smoothing;
  config_.loss = spec_.str();
  const ModelConfig model_config{dataset_info(config_.dataset).channels, config_.width, config_.depth, {}};
  Generator init(config_.seed);
  model_ = make_model(config_.model, data_.classes, init, model_config);
  criterion_ = attach_loss(*model_, spec_, init);
  if (!config_.init_from.empty()) {
    // The weights of another run (ours or a PyTorch .pth) start this one; names and shapes must all match.
    const std::string head = model_->head_name() + ".";
    load_weights(read_checkpoint_file(config_.init_from), *model_, model_->head_name(), true,
                 {head + "temperature", head + "validationset_available", head + "precomputed_thresholds"});
  }
  model_->to(device_);
  optimizer_ = std::make_unique<SGD>(model_->named_parameters(),
                                     SgdOptions{config_.lr, config_.momentum, 0.0, config_.weight_decay,
                                                config_.nesterov && config_.momentum > 0});
  if (config_.no_decay_bn_bias) optimizer_->exclude_from_weight_decay(no_decay_parameter_names(model_->named_parameters()));
  meta_ = model_metadata(*model_, spec_, model_config);
  meta_["dataset"] = config_.dataset;
  meta_["seed"] = std::to_string(config_.seed);
  meta_["temperature"] = "1";
  meta_["config"] = config_.json();
}

void TrainingRun::restore(int64_t extend_epochs) {
  Metadata state;
  const std::string source = paths_.last().string();
  if (is_resumable_checkpoint(load_safetensors_metadata(source))) {
    state = load_resumable_checkpoint(source, *model_, *optimizer_, {{"batches", &batch_gen_}});
  } else {  // written by an earlier version: the weights and the state in two files
    DISMAX_CHECK(fs::exists(paths_.state()), "--resume: ", source, " holds no training state and ",
                 paths_.state().string(), " does not exist");
    const Metadata saved = load_checkpoint(source, *model_);
    state = load_training_state(paths_.state().string(), *optimizer_, {{"batches", &batch_gen_}});
    DISMAX_CHECK(saved.count("resume_token") && state.count("resume_token") &&
                     saved.at("resume_token") == state.at("resume_token"),
                 paths_.out.string(), ": last.safetensors and last.state.safetensors are from different points (the "
                 "run was stopped while saving); resume is not possible, restart or continue from best.safetensors");
  }
  at_.epoch = metadata_int(state, "epoch", source);
  at_.batch = metadata_int(state, "batch", source);
  at_.best_acc = metadata_double(state, "best_valid_accuracy", source);
  at_.best_epoch = metadata_int(state, "best_epoch", source);
  DISMAX_CHECK(at_.epoch >= 0 && at_.epoch <= config_.epochs && at_.batch >= 0 && at_.batch <= batches_per_epoch_ &&
                   at_.best_epoch >= 0 && at_.best_epoch <= at_.epoch,
               source, ": its training state (epoch ", at_.epoch, ", batch ", at_.batch, ", best epoch ", at_.best_epoch,
               ") does not fit this run (", config_.epochs, " epochs of ", batches_per_epoch_, " batches)");
  if (extend_epochs > 0) {
    DISMAX_CHECK(extend_epochs >= at_.epoch + (at_.batch > 0 ? 1 : 0), "--epochs ", extend_epochs, ": ",
                 paths_.out.string(), " has already trained ", at_.epoch, " epoch(s)");
    if (extend_epochs != config_.epochs) {
      std::fprintf(stderr, "extending %s from %ld to %ld epochs%s\n", paths_.out.string().c_str(),
                   static_cast<long>(config_.epochs), static_cast<long>(extend_epochs),
                   config_.schedule == "cosine" ? " (the cosine schedule is stretched to the new length)" : "");
      config_.epochs = extend_epochs;
      meta_["config"] = config_.json();
      write_file_atomically(paths_.config().string(), config_.json(2) + "\n");
    }
  }
  DISMAX_CHECK(at_.epoch < config_.epochs, "--resume: ", paths_.out.string(), " has finished all ", config_.epochs,
               " epochs; pass --epochs N with N > ", config_.epochs, " to train it further");
  if (at_.batch > 0) {
    try {
      at_.train_stats = EpochStats::from_state(nlohmann::json::parse(state.at("train_stats")));
    } catch (const std::exception& e) {
      DISMAX_FAIL(source, ": its training state's 'train_stats' is unreadable (", e.what(), ")");
    }
  }
  std::fprintf(stderr, "resuming %s at epoch %ld, batch %ld\n", paths_.out.string().c_str(),
               static_cast<long>(at_.epoch + 1), static_cast<long>(at_.batch));
}

void TrainingRun::start_outputs() {
  write_file_atomically(paths_.config().string(), config_.json(2) + "\n");
  write_file_atomically(paths_.arch().string(), model_->summary());
  write_file_atomically(paths_.raw().string(), "DATA,MODEL,LOSS,EXECUTION,EPOCH,SET,METRIC,VALUE\n");
  std::ofstream(paths_.history(), std::ios::trunc);
}

std::string TrainingRun::last_good() const {
  return fs::exists(paths_.last()) ? "the last good checkpoint is " + paths_.last().string()
                                   : std::string("no checkpoint was written yet");
}

// One file holds the weights and the state (consistent by construction); the two-file layout of earlier
// versions is removed once the first new checkpoint is on disk.
void TrainingRun::save_last(int64_t epoch, int64_t batch, const EpochStats& partial) {
  Metadata m = meta_;
  m["epoch"] = std::to_string(epoch);
  Metadata extra{{"batch", std::to_string(batch)},
                 {"best_valid_accuracy", exact(at_.best_acc)},
                 {"best_epoch", std::to_string(at_.best_epoch)},
                 {"train_stats", partial.state().dump()}};
  save_resumable_checkpoint(paths_.last().string(), *model_, m, *optimizer_, epoch, {{"batches", &batch_gen_}}, extra);
  std::error_code ec;
  fs::remove(paths_.state(), ec);
}

bool TrainingRun::train_epoch(int64_t epoch) {
  // Testing hook: DISMAX_TEST_STOP_AT="epoch:batch" raises SIGINT there, to exercise interruption and resume.
  long stop_epoch = -1, stop_batch = -1;
  if (const char* at = std::getenv("DISMAX_TEST_STOP_AT")) std::sscanf(at, "%ld:%ld", &stop_epoch, &stop_batch);
  model_->train();
  train_loader_.start_epoch(epoch);
  const int64_t first_batch = epoch == at_.epoch ? at_.batch : 0;
  if (first_batch == 0) at_.train_stats = EpochStats();
  for (int64_t b = 0; b < first_batch; ++b) train_loader_.next();  // batches depend only on (seed, epoch)
  char label[64];
  std::snprintf(label, sizeof label, "epoch %ld/%ld", static_cast<long>(epoch + 1), static_cast<long>(config_.epochs));
  Progress progress(label, batches_per_epoch_, config_.log_every);
  EpochStats& stats = at_.train_stats;
  // Results stay on the device until a read-back every `sync_every_` batches (every batch on the CPU,
  // where reading costs nothing), so the GPU never waits for the host; a non-finite loss is still
  // reported with its own batch number.
  std::vector<PendingBatch> pending;
  const auto started = std::chrono::steady_clock::now();
  epoch_images_ = 0;
  auto read_back = [&] {
    for (const PendingBatch& p : pending) {
      const double loss_value = p.loss.item();
      DISMAX_CHECK(std::isfinite(loss_value), "non-finite training loss (", loss_value, ") at epoch ", epoch + 1,
                   ", batch ", p.index + 1, " of ", config_.out, "; ", last_good(),
                   " (try a smaller --lr, or --numerics fused)");
      stats.add_batch(loss_value, p.logits, p.targets);
      progress.update(p.index + 1, short_status(stats), p.size);
    }
    if (!pending.empty()) stats.scale = criterion_->head().distance_scale_value();
    pending.clear();
  };
  for (int64_t b = first_batch; b < batches_per_epoch_; ++b) {
    auto batch = train_loader_.next();
    if (!batch) break;
    Tensor x = batch->images.to(device_), y = batch->labels;  // targets stay on the host: the losses index with them
    optimizer_->set_lr(schedule_->lr_at_step(epoch * batches_per_epoch_ + b, batches_per_epoch_));
    std::tie(x, y) = criterion_->preprocess(x, y, batch_gen_);
    Tensor logits = model_->forward(x);
    Tensor loss = criterion_->forward(logits, y);
    optimizer_->zero_grad();
    loss.backward();
    optimizer_->step();
    pending.push_back({b, loss.detach(), logits.detach(), y, batch->size()});
    epoch_images_ += batch->size();
    if (static_cast<int64_t>(pending.size()) >= sync_every_ || b + 1 == batches_per_epoch_) read_back();
    if (epoch + 1 == stop_epoch && b + 1 == stop_batch) std::raise(SIGINT);
    if (stop_requested()) {
      read_back();
      save_last(epoch, b + 1, stats);
      std::fprintf(stderr, "\nstopped at epoch %ld, batch %ld: resumable checkpoint in %s (dismax-train --resume --out %s)\n",
                   static_cast<long>(epoch + 1), static_cast<long>(b + 1), paths_.out.string().c_str(),
                   paths_.out.string().c_str());
      return false;
    }
  }
  read_back();
  epoch_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  progress.finish(short_status(stats));
  return true;
}

// Eval mode: the criterion's validation formula; DisMax's thresholds are set from the MMLES scores.
EpochStats TrainingRun::validate(int64_t epoch) {
  model_->eval();
  auto* dismax_head = dynamic_cast<DisMaxHead*>(&model_->head());
  EpochStats stats;
  ThresholdAccumulator thresholds;
  NoGradGuard no_grad;
  valid_loader_.start_epoch(0);
  std::vector<PendingBatch> pending;
  auto read_back = [&] {
    for (const PendingBatch& p : pending) {
      const double loss_value = p.loss.item();
      DISMAX_CHECK(std::isfinite(loss_value), "non-finite validation loss (", loss_value, ") after epoch ", epoch + 1,
                   " of ", config_.out, ": the weights have diverged; ", last_good(),
                   " (try a smaller --lr, or --numerics fused)");
      stats.add_batch(loss_value, p.logits, p.targets);
      if (dismax_head) thresholds.add(compute_score(p.logits, Score::MMLES));
    }
    pending.clear();
  };
  while (auto batch = valid_loader_.next()) {
    Tensor x = batch->images.to(device_), y = batch->labels;
    Tensor logits = model_->forward(x);
    pending.push_back({0, criterion_->forward(logits, y), logits, y, batch->size()});
    if (static_cast<int64_t>(pending.size()) >= sync_every_) read_back();
  }
  read_back();
  stats.scale = criterion_->head().distance_scale_value();
  if (dismax_head && !thresholds.empty()) thresholds.store(*dismax_head, 1);
  return stats;
}

// The epoch's statistics into the logs, the best checkpoint when validation improved, the last checkpoint.
void TrainingRun::record_epoch(int64_t epoch, const EpochStats& valid_stats) {
  const EpochStats& train_stats = at_.train_stats;
  std::fprintf(stderr, "epoch %ld: train loss %.4f acc %.2f%% | valid loss %.4f acc %.2f%% | lr %g\n",
               static_cast<long>(epoch + 1), train_stats.loss(), train_stats.accuracy(), valid_stats.loss(),
               valid_stats.accuracy(), optimizer_->lr());
  append_raw_rows(paths_.raw(), config_, epoch + 1, "TRAIN", train_stats);
  append_raw_rows(paths_.raw(), config_, epoch + 1, "VALID", valid_stats);
  {
    std::ofstream hist(paths_.history(), std::ios::app);
    hist << nlohmann::json{{"epoch", epoch + 1},
                           {"lr", optimizer_->lr()},
                           {"train", train_stats.to_json()},
                           {"valid", valid_stats.to_json()},
                           {"train_seconds", epoch_seconds_},
                           {"train_images", epoch_images_},
                           {"train_images_per_second", epoch_seconds_ > 0 ? epoch_images_ / epoch_seconds_ : 0.0}}
                .dump()
         << "\n";
  }
  if (valid_stats.accuracy() > at_.best_acc) {
    at_.best_acc = valid_stats.accuracy();
    at_.best_epoch = epoch + 1;
    Metadata m = meta_;
    m["epoch"] = std::to_string(epoch + 1);
    m["valid_accuracy"] = exact(at_.best_acc / 100.0);
    save_checkpoint(paths_.best().string(), *model_, m);
    write_best_csv(paths_.best_csv(), config_, epoch + 1, train_stats, valid_stats);
  }
  save_last(epoch + 1, 0, EpochStats());
}

TrainOutcome TrainingRun::run_epochs() {
  schedule_ = make_schedule(config_);  // after a resume: --epochs may have extended the run
  std::fprintf(stderr, "dismax-train %s (%s): %s on %s (%ld train, %ld validation, %ld classes), %s, %ld params, "
                       "%d threads, device %s\n",
               engine_version(), git_revision(), config_.model.c_str(), config_.dataset.c_str(),
               static_cast<long>(data_.train->size()), static_cast<long>(data_.valid->size()),
               static_cast<long>(data_.classes), config_.loss.c_str(), static_cast<long>(model_->parameter_count()),
               num_threads(), device_.str().c_str());
  install_stop_handlers();
  TrainOutcome outcome;
  outcome.epochs_done = at_.epoch;
  for (int64_t epoch = at_.epoch; epoch < config_.epochs; ++epoch) {
    if (!train_epoch(epoch)) {
      outcome.interrupted = true;
      break;
    }
    record_epoch(epoch, validate(epoch));
    outcome.epochs_done = epoch + 1;
    if (stop_requested()) {
      std::fprintf(stderr, "stopped after epoch %ld: resumable checkpoint in %s\n", static_cast<long>(epoch + 1),
                   paths_.out.string().c_str());
      outcome.interrupted = true;
      break;
    }
  }
  outcome.best_valid_accuracy = at_.best_acc;
  outcome.best_epoch = at_.best_epoch;
  return outcome;
}

}  // namespace

TrainOutcome train(TrainConfig config, bool resume, int64_t extend_epochs) {
  config.validate();
  const Paths paths{config.out};
  fs::create_directories(paths.out);
  const FolderLock lock(paths.out.string(), std::string("dismax-train") + (resume ? " --resume" : "") + " --out " +
                                                paths.out.string());
  if (const int stale = remove_stale_temporaries(paths.out.string()))
    std::fprintf(stderr, "removed %d temporary file(s) of an interrupted save in %s\n", stale,
                 paths.out.string().c_str());
  if (resume) config = saved_configuration(paths, config);
  if (config.threads > 0) set_num_threads(config.threads);
  TrainingRun run(std::move(config), paths);
  if (resume) run.restore(extend_epochs);
  else run.start_outputs();
  return run.run_epochs();
}

}  // namespace dismax
