#include "tools/train/trainer.h"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "engine/io/file.h"
#include "engine/grad_mode.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/version.h"
#include "layers/lr_schedule.h"
#include "layers/sgd.h"
#include "experiment/model_with_loss.h"
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

int64_t in_channels_of(const std::string& dataset) { return dataset == "mnist" || dataset == "fashion-mnist" ? 1 : 3; }

std::unique_ptr<LrSchedule> make_schedule(const TrainConfig& c) {
  if (c.schedule == "cosine") return std::make_unique<CosineAnnealingLR>(c.lr, c.epochs);
  DISMAX_CHECK(c.schedule == "multistep", "--schedule must be multistep or cosine, got '", c.schedule, "'");
  return std::make_unique<MultiStepLR>(c.lr, c.milestones, c.gamma);
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

}  // namespace

TrainOutcome train(TrainConfig config, bool resume, int64_t extend_epochs) {
  Paths paths{config.out};
  config.validate();
  fs::create_directories(paths.out);
  const FolderLock lock(paths.out.string(), std::string("dismax-train") + (resume ? " --resume" : "") + " --out " +
                                                paths.out.string());
  if (const int stale = remove_stale_temporaries(paths.out.string()))
    std::fprintf(stderr, "removed %d temporary file(s) of an interrupted save in %s\n", stale,
                 paths.out.string().c_str());
  const TrainConfig requested = config;
  if (resume) {
    DISMAX_CHECK(fs::exists(paths.config()) && fs::exists(paths.last()), "--resume: ", paths.out.string(),
                 " has no config.json and last.safetensors to resume from");
    std::ifstream in(paths.config());
    nlohmann::json j;
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {
      DISMAX_FAIL(paths.config().string(), ": not valid JSON (", e.what(), ")");
    }
    config = TrainConfig::from_json(j, paths.config().string());
    config.device = requested.device;
    config.threads = requested.threads;
    config.workers = requested.workers;
    config.out = requested.out;
    try {
      config.validate();
    } catch (const Error& e) {
      DISMAX_FAIL(paths.config().string(), ": ", e.what());
    }
  }
  if (config.threads > 0) set_num_threads(config.threads);
  const Device device = parse_device(config.device);
  const int64_t sync_every = device.is_cpu() ? 1 : 20;  // batches between device-to-host read-backs
  LossSpec spec = parse_loss(config.loss);
  spec.numerics = config.numerics == "fused" ? Numerics::Fused : Numerics::Literal;
  config.loss = spec.str();

  // ---- data
  std::shared_ptr<const Dataset> train_set = open_dataset(config.dataset, config.data_dir, "train");
  std::shared_ptr<const Dataset> valid_set;
  if (config.validation_split > 0) {
    auto parts = split_train_validation(train_set, config.validation_split, config.seed, true);
    train_set = parts.first;
    valid_set = parts.second;
  } else {
    valid_set = open_dataset(config.dataset, config.data_dir, "test");
  }
  if (config.train_subset > 0 && config.train_subset < train_set->size()) {
    std::vector<int64_t> order(static_cast<size_t>(train_set->size()));
    for (int64_t i = 0; i < train_set->size(); ++i) order[i] = i;
    std::mt19937_64 rng(config.seed);
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(static_cast<size_t>(config.train_subset));
    std::sort(order.begin(), order.end());
    train_set = std::make_shared<SubsetDataset>(train_set, order, "training subset");
  }
  DISMAX_CHECK(train_set->size() > 0, config.dataset, ": the training set in ", config.data_dir, " is empty");
  DISMAX_CHECK(valid_set->size() > 0, config.dataset, ": the validation set (",
               config.validation_split > 0 ? "--validation-split" : "the test split", ") is empty");
  const int64_t classes = train_set->num_classes();
  DISMAX_CHECK(num_classes_of(config.dataset) == 0 || num_classes_of(config.dataset) == classes, config.dataset,
               ": expected ", num_classes_of(config.dataset), " classes, found ", classes, " in ", config.data_dir);
  const bool pin = device.is_cuda();  // the workers stage batches in pinned memory: uploads overlap compute
  DataLoader train_loader(train_set, train_transform(config.dataset),
                          {config.batch_size, true, false, config.seed, config.workers, 0, pin});
  DataLoader valid_loader(valid_set, eval_transform(config.dataset),
                          {config.batch_size, false, false, config.seed, config.workers, 0, pin});

  // ---- model, loss, optimiser
  const ModelConfig model_config{in_channels_of(config.dataset), config.width, config.depth, {}};
  Generator init(config.seed);
  auto model = make_model(config.model, classes, init, model_config);
  auto criterion = attach_loss(*model, spec, init);
  model->to(device);
  SGD optimizer(model->named_parameters(),
                {config.lr, config.momentum, 0.0, config.weight_decay, config.nesterov && config.momentum > 0});
  Generator batch_gen(config.seed * 0x9E3779B97F4A7C15ULL + 1);  // preprocess shuffles and FPR
  Metadata meta = model_metadata(*model, spec, model_config);
  meta["dataset"] = config.dataset;
  meta["seed"] = std::to_string(config.seed);
  meta["temperature"] = "1";
  meta["config"] = config.to_json().dump();

  int64_t start_epoch = 0, start_batch = 0;
  EpochStats train_stats;
  double best_acc = 0;
  int64_t best_epoch = 0;
  const int64_t batches_per_epoch = config.max_train_batches > 0
                                        ? std::min(config.max_train_batches, train_loader.num_batches())
                                        : train_loader.num_batches();
  if (resume) {
    Metadata state;
    const std::string source = paths.last().string();
    if (is_resumable_checkpoint(load_safetensors_metadata(source))) {
      state = load_resumable_checkpoint(source, *model, optimizer, {{"batches", &batch_gen}});
    } else {  // written by an earlier version: the weights and the state in two files
      DISMAX_CHECK(fs::exists(paths.state()), "--resume: ", source, " holds no training state and ",
                   paths.state().string(), " does not exist");
      const Metadata saved = load_checkpoint(source, *model);
      state = load_training_state(paths.state().string(), optimizer, {{"batches", &batch_gen}});
      DISMAX_CHECK(saved.count("resume_token") && state.count("resume_token") &&
                       saved.at("resume_token") == state.at("resume_token"),
                   paths.out.string(), ": last.safetensors and last.state.safetensors are from different points (the "
                   "run was stopped while saving); resume is not possible, restart or continue from best.safetensors");
    }
    start_epoch = metadata_int(state, "epoch", source);
    start_batch = metadata_int(state, "batch", source);
    best_acc = metadata_double(state, "best_valid_accuracy", source);
    best_epoch = metadata_int(state, "best_epoch", source);
    DISMAX_CHECK(start_epoch >= 0 && start_epoch <= config.epochs && start_batch >= 0 &&
                     start_batch <= batches_per_epoch && best_epoch >= 0 && best_epoch <= start_epoch,
                 source, ": its training state (epoch ", start_epoch, ", batch ", start_batch, ", best epoch ",
                 best_epoch, ") does not fit this run (", config.epochs, " epochs of ", batches_per_epoch, " batches)");
    if (extend_epochs > 0) {
      DISMAX_CHECK(extend_epochs >= start_epoch + (start_batch > 0 ? 1 : 0), "--epochs ", extend_epochs, ": ",
                   paths.out.string(), " has already trained ", start_epoch, " epoch(s)");
      if (extend_epochs != config.epochs) {
        std::fprintf(stderr, "extending %s from %ld to %ld epochs%s\n", paths.out.string().c_str(),
                     static_cast<long>(config.epochs), static_cast<long>(extend_epochs),
                     config.schedule == "cosine" ? " (the cosine schedule is stretched to the new length)" : "");
        config.epochs = extend_epochs;
        meta["config"] = config.to_json().dump();
        write_file_atomically(paths.config().string(), config.to_json().dump(2) + "\n");
      }
    }
    DISMAX_CHECK(start_epoch < config.epochs, "--resume: ", paths.out.string(), " has finished all ", config.epochs,
                 " epochs; pass --epochs N with N > ", config.epochs, " to train it further");
    if (start_batch > 0) {
      try {
        train_stats = EpochStats::from_state(nlohmann::json::parse(state.at("train_stats")));
      } catch (const std::exception& e) {
        DISMAX_FAIL(source, ": its training state's 'train_stats' is unreadable (", e.what(), ")");
      }
    }
    std::fprintf(stderr, "resuming %s at epoch %ld, batch %ld\n", paths.out.string().c_str(),
                 static_cast<long>(start_epoch + 1), static_cast<long>(start_batch));
  } else {
    write_file_atomically(paths.config().string(), config.to_json().dump(2) + "\n");
    write_file_atomically(paths.arch().string(), model->summary());
    write_file_atomically(paths.raw().string(), "DATA,MODEL,LOSS,EXECUTION,EPOCH,SET,METRIC,VALUE\n");
    std::ofstream(paths.history(), std::ios::trunc);
  }
  const auto schedule = make_schedule(config);  // after a resume: --epochs may have extended the run
  std::fprintf(stderr, "dismax-train %s (%s): %s on %s (%ld train, %ld validation, %ld classes), %s, %ld params, "
                       "%d threads, device %s\n",
               engine_version(), git_revision(), config.model.c_str(), config.dataset.c_str(),
               static_cast<long>(train_set->size()), static_cast<long>(valid_set->size()), static_cast<long>(classes),
               config.loss.c_str(), static_cast<long>(model->parameter_count()), num_threads(), device.str().c_str());

  install_stop_handlers();
  // Testing hook: DISMAX_TEST_STOP_AT="epoch:batch" raises SIGINT there, to exercise interruption and resume.
  int64_t stop_epoch = -1, stop_batch = -1;
  if (const char* at = std::getenv("DISMAX_TEST_STOP_AT")) std::sscanf(at, "%ld:%ld", &stop_epoch, &stop_batch);
  auto* dismax_head = dynamic_cast<DisMaxHead*>(&model->head());
  uint64_t save_counter = 0;
  // One file holds the weights and the state (consistent by construction); the two-file layout of earlier
  // versions is removed once the first new checkpoint is on disk.
  auto save_last = [&](int64_t epoch, int64_t batch, const EpochStats& partial) {
    Metadata m = meta;
    m["epoch"] = std::to_string(epoch);
    Metadata extra{{"batch", std::to_string(batch)},
                   {"best_valid_accuracy", exact(best_acc)},
                   {"best_epoch", std::to_string(best_epoch)},
                   {"train_stats", partial.state().dump()}};
    save_resumable_checkpoint(paths.last().string(), *model, m, optimizer, epoch, {{"batches", &batch_gen}}, extra);
    std::error_code ec;
    fs::remove(paths.state(), ec);
  };

  // Every checkpoint on disk was checked finite when it was written.
  auto last_good = [&] {
    return fs::exists(paths.last()) ? "the last good checkpoint is " + paths.last().string()
                                    : std::string("no checkpoint was written yet");
  };
  TrainOutcome outcome;
  for (int64_t epoch = start_epoch; epoch < config.epochs; ++epoch) {
    optimizer.set_lr(schedule->lr_at(epoch));
    model->train();
    train_loader.start_epoch(epoch);
    if (epoch != start_epoch || start_batch == 0) train_stats = EpochStats();
    const int64_t first_batch = epoch == start_epoch ? start_batch : 0;
    for (int64_t b = 0; b < first_batch; ++b) train_loader.next();  // batches depend only on (seed, epoch)
    char label[64];
    std::snprintf(label, sizeof label, "epoch %ld/%ld", static_cast<long>(epoch + 1), static_cast<long>(config.epochs));
    Progress progress(label, batches_per_epoch, config.log_every);
    // Results stay on the device until a read-back every `sync_every` batches (every batch on the CPU,
    // where reading costs nothing), so the GPU never waits for the host; a non-finite loss is still
    // reported with its own batch number.
    std::vector<PendingBatch> pending;
    auto read_back = [&] {
      for (const PendingBatch& p : pending) {
        const double loss_value = p.loss.item();
        DISMAX_CHECK(std::isfinite(loss_value), "non-finite training loss (", loss_value, ") at epoch ", epoch + 1,
                     ", batch ", p.index + 1, " of ", config.out, "; ", last_good(),
                     " (try a smaller --lr, or --numerics fused)");
        train_stats.add_batch(loss_value, p.logits, p.targets);
        progress.update(p.index + 1, short_status(train_stats), p.size);
      }
      if (!pending.empty()) train_stats.scale = criterion->head().distance_scale_value();
      pending.clear();
    };
    for (int64_t b = first_batch; b < batches_per_epoch; ++b) {
      auto batch = train_loader.next();
      if (!batch) break;
      Tensor x = batch->images.to(device), y = batch->labels;  // targets stay on the host: the losses index with them
      std::tie(x, y) = criterion->preprocess(x, y, batch_gen);
      Tensor logits = model->forward(x);
      Tensor loss = criterion->forward(logits, y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      pending.push_back({b, loss.detach(), logits.detach(), y, batch->size()});
      if (static_cast<int64_t>(pending.size()) >= sync_every || b + 1 == batches_per_epoch) read_back();
      if (epoch + 1 == stop_epoch && b + 1 == stop_batch) std::raise(SIGINT);
      if (stop_requested()) {
        read_back();
        save_last(epoch, b + 1, train_stats);
        std::fprintf(stderr, "\nstopped at epoch %ld, batch %ld: resumable checkpoint in %s (dismax-train --resume --out %s)\n",
                     static_cast<long>(epoch + 1), static_cast<long>(b + 1), paths.out.string().c_str(),
                     paths.out.string().c_str());
        outcome.interrupted = true;
        outcome.epochs_done = epoch;
        outcome.best_valid_accuracy = best_acc;
        outcome.best_epoch = best_epoch;
        return outcome;
      }
    }
    read_back();
    progress.finish(short_status(train_stats));

    // ---- validation (eval mode: the criterion's validation formula; DisMax thresholds from MMLES)
    model->eval();
    EpochStats valid_stats;
    ThresholdAccumulator thresholds;
    {
      NoGradGuard no_grad;
      valid_loader.start_epoch(0);
      std::vector<PendingBatch> pending;
      auto read_back = [&] {
        for (const PendingBatch& p : pending) {
          const double loss_value = p.loss.item();
          DISMAX_CHECK(std::isfinite(loss_value), "non-finite validation loss (", loss_value, ") after epoch ",
                       epoch + 1, " of ", config.out, ": the weights have diverged; ", last_good(),
                       " (try a smaller --lr, or --numerics fused)");
          valid_stats.add_batch(loss_value, p.logits, p.targets);
          if (dismax_head) thresholds.add(compute_score(p.logits, Score::MMLES));
        }
        pending.clear();
      };
      while (auto batch = valid_loader.next()) {
        Tensor x = batch->images.to(device), y = batch->labels;
        Tensor logits = model->forward(x);
        pending.push_back({0, criterion->forward(logits, y), logits, y, batch->size()});
        if (static_cast<int64_t>(pending.size()) >= sync_every) read_back();
      }
      read_back();
    }
    valid_stats.scale = criterion->head().distance_scale_value();
    if (dismax_head && !thresholds.empty()) thresholds.store(*dismax_head, 1);
    std::fprintf(stderr, "epoch %ld: train loss %.4f acc %.2f%% | valid loss %.4f acc %.2f%% | lr %g\n",
                 static_cast<long>(epoch + 1), train_stats.loss(), train_stats.accuracy(), valid_stats.loss(),
                 valid_stats.accuracy(), optimizer.lr());

    append_raw_rows(paths.raw(), config, epoch + 1, "TRAIN", train_stats);
    append_raw_rows(paths.raw(), config, epoch + 1, "VALID", valid_stats);
    {
      std::ofstream hist(paths.history(), std::ios::app);
      hist << nlohmann::json{{"epoch", epoch + 1}, {"lr", optimizer.lr()}, {"train", train_stats.to_json()},
                             {"valid", valid_stats.to_json()}}
                  .dump()
           << "\n";
    }
    if (valid_stats.accuracy() > best_acc) {
      best_acc = valid_stats.accuracy();
      best_epoch = epoch + 1;
      Metadata m = meta;
      m["epoch"] = std::to_string(epoch + 1);
      m["valid_accuracy"] = exact(best_acc / 100.0);
      save_checkpoint(paths.best().string(), *model, m);
      write_best_csv(paths.best_csv(), config, epoch + 1, train_stats, valid_stats);
    }
    save_last(epoch + 1, 0, EpochStats());
    outcome.epochs_done = epoch + 1;
    if (stop_requested()) {
      std::fprintf(stderr, "stopped after epoch %ld: resumable checkpoint in %s\n", static_cast<long>(epoch + 1),
                   paths.out.string().c_str());
      outcome.interrupted = true;
      break;
    }
  }
  outcome.best_valid_accuracy = best_acc;
  outcome.best_epoch = best_epoch;
  return outcome;
}

}  // namespace dismax
