// dismax-train: trains an image classifier with SoftMax, IsoMax, IsoMax+ or DisMax (+FPR). Defaults
// reproduce the paper's recipe (SPEC §5); see --help.
#include <CLI/CLI.hpp>
#include <cmath>
#include <new>
#include <cstdio>
#include <sstream>

#include "datasets/dataset.h"
#include "datasets/image.h"
#include "datasets/registry.h"
#include "engine/error.h"
#include "losses/loss_spec.h"
#include "models/model.h"
#include "tools/train/trainer.h"

using namespace dismax;

namespace {
std::vector<int64_t> parse_milestones(const std::string& text) {
  std::vector<int64_t> out;
  std::string item;
  std::stringstream ss(text);
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    try {
      out.push_back(std::stoll(item));
    } catch (const std::exception&) {
      DISMAX_FAIL("--milestones '", text, "': '", item, "' is not an integer");
    }
  }
  return out;
}
// CLI11 would read "-1" into the unsigned seed as 2^64 - 1.
std::string non_negative_integer(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return "must be a whole number >= 0, got '" + text + "'";
  return "";
}
std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  TrainConfig c;
  std::string config_string, milestones, loss = "softmax";
  bool fpr = false, resume = false;
  double alpha = 1.0, logitnorm_t = 0.04;
  CLI::App app{"dismax-train: train an image classifier with SoftMax, IsoMax, IsoMax+ or DisMax (+FPR).\n"
               "Defaults follow the paper's recipe (SGD 0.1, Nesterov momentum 0.9, weight decay 1e-4, batch 64, 300 "
               "epochs, lr x0.1 at 150/200/250 on CIFAR; batch 256, 90 epochs, 30/60 on ImageNet)."};
  app.add_option("--dataset", c.dataset, "Dataset: " + joined(training_dataset_names()))
      ->capture_default_str()
      ->check(CLI::IsMember(training_dataset_names()));
  app.add_option("--data-dir", c.data_dir, "Folder holding the dataset in its official layout")->capture_default_str();
  app.add_option("--model", c.model, "Architecture: " + joined(model_names()))->capture_default_str();
  app.add_option("--loss", loss, "softmax | isomax | isomaxplus | dismax | logitnorm (or an original loss string such as "
                                 "dismax_std_std_fpr)")->capture_default_str();
  app.add_flag("--fpr", fpr, "DisMax with fractional probability regularisation");
  app.add_option("--alpha", alpha, "Weight of the FPR KL term (1, 0.5 or 0.25 in the paper)")->capture_default_str();
  auto* logitnorm_option = app.add_option("--logitnorm-t", logitnorm_t, "LogitNorm's temperature t (--loss logitnorm)")
                               ->capture_default_str();
  app.add_option("--numerics", c.numerics, "literal (softmax then log, as the paper's code) | fused (log-softmax)")
      ->capture_default_str();
  app.add_option("--config", config_string, "Original config string, e.g. data~cifar10+model~resnet34+loss~dismax_std_std_fpr");
  auto* epochs = app.add_option("--epochs", c.epochs, "Epochs (default: the dataset's recipe)");
  auto* batch = app.add_option("--batch-size", c.batch_size, "Batch size (default: the dataset's recipe)");
  app.add_option("--lr", c.lr, "Initial learning rate")->capture_default_str();
  app.add_option("--momentum", c.momentum, "SGD momentum (Nesterov)")->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "L2 weight decay, on every trainable parameter")->capture_default_str();
  auto* ms = app.add_option("--milestones", milestones, "Comma-separated epochs after which lr is multiplied by --gamma");
  app.add_option("--gamma", c.gamma, "Learning-rate decay factor at each milestone")->capture_default_str();
  app.add_option("--schedule", c.schedule, "multistep | cosine")->capture_default_str();
  app.add_option("--width", c.width, "Channel-width multiplier of the architecture (1 = as published)")->capture_default_str();
  app.add_option("--depth", c.depth, "Depth of DenseNet/WideResNet (0 = as published)")->capture_default_str();
  app.add_option("--seed", c.seed, "Seed of the initialisation, data order, augmentation and mixing (>= 0)")
      ->capture_default_str()
      ->check(non_negative_integer);
  app.add_option("--device", c.device, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--threads", c.threads, "CPU threads (0 = all cores; also DISMAX_NUM_THREADS)")->capture_default_str();
  app.add_option("--workers", c.workers, "Data-loading threads")->capture_default_str();
  app.add_option("--validation-split", c.validation_split,
                 "Hold out part of the training set for model selection and calibration: a fraction in (0,1) or a "
                 "count; 0 selects on the test split as the paper did")->capture_default_str();
  app.add_option("--train-subset", c.train_subset, "Train on a fixed random subset of this many examples (0 = all)");
  app.add_option("--classes", c.classes, "Train and validate on these class indices only, relabelled by rank "
                                         "(comma-separated; the open-set split: the others are near-OOD)")
      ->delimiter(',');
  app.add_option("--max-batches", c.max_train_batches, "Cap on training batches per epoch (0 = all; for smoke runs)");
  app.add_option("--log-every", c.log_every, "Batches between log lines when not on a terminal (0 = ~10 per epoch)");
  app.add_option("--out", c.out, "Output folder (config.json, checkpoints, logs)")->capture_default_str();
  app.add_option("--init-from", c.init_from, "Start from this checkpoint's weights (a dismax .safetensors or a PyTorch "
                                            ".pth state_dict of the same --model and --loss)");
  app.add_flag("--resume", resume, "Continue the run in --out from its last checkpoint (with --epochs: extend it)");
  int64_t max_pixels = kDefaultMaxImagePixels;
  app.add_option("--max-image-pixels", max_pixels,
                 "Refuse image files that declare more pixels than this (decompression bombs; 0 = no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    set_max_image_pixels(max_pixels);
    if (!config_string.empty()) {
      TrainConfig from_string = c;
      from_string.loss = loss;
      apply_config_string(from_string, config_string);
      c.dataset = from_string.dataset;
      c.model = from_string.model;
      loss = from_string.loss;
    }
    LossSpec spec = parse_loss(loss);
    if (fpr) {
      DISMAX_CHECK(spec.family == "dismax", "--fpr needs --loss dismax, got ", loss);
      spec.fpr = true;
      spec.alpha = alpha;
    }
    if (logitnorm_option->count()) {
      DISMAX_CHECK(spec.family == "logitnorm", "--logitnorm-t needs --loss logitnorm, got ", loss);
      DISMAX_CHECK(std::isfinite(logitnorm_t) && logitnorm_t > 0, "--logitnorm-t must be > 0, got ", logitnorm_t);
      spec.logitnorm_t = logitnorm_t;
    }
    c.loss = spec.str();
    const Recipe& recipe = training_recipe(c.dataset);
    if (epochs->count() == 0) c.epochs = recipe.epochs;
    if (batch->count() == 0) c.batch_size = recipe.batch_size;
    c.milestones = ms->count() ? parse_milestones(milestones) : recipe.milestones;
    const TrainOutcome outcome = train(c, resume, resume && epochs->count() ? c.epochs : 0);
    std::printf("%s: %ld epochs, best validation accuracy %.2f%% at epoch %ld; checkpoints in %s\n",
                outcome.interrupted ? "interrupted" : "finished", static_cast<long>(outcome.epochs_done),
                outcome.best_valid_accuracy, static_cast<long>(outcome.best_epoch), c.out.c_str());
    return outcome.interrupted ? 130 : 0;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory (try a smaller --batch-size, model or dataset)\n", "dismax-train");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dismax-train: error: %s\n", e.what());
    return 1;
  }
}
