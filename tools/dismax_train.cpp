// dismax-train: trains an image classifier with SoftMax, IsoMax, IsoMax+ or DisMax (+FPR). Defaults
// reproduce the paper's recipe (SPEC §5); see --help.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <new>
#include <cstdio>
#include <sstream>

#include "datasets/dataset.h"
#include "datasets/image.h"
#include "datasets/registry.h"
#include "engine/error.h"
#include "engine/io/file.h"
#include "experiment/train_config.h"
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
// The value of --config when it names a file (config.json of an earlier run), found before the flags are
// parsed: the file becomes the starting point and every flag given overrides it.
std::string config_file_argument(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], value;
    if (a == "--config" && i + 1 < argc) value = argv[i + 1];
    else if (a.rfind("--config=", 0) == 0) value = a.substr(9);
    if (!value.empty() && value.find('~') == std::string::npos) return value;
  }
  return "";
}
std::vector<double> parse_numbers(const std::string& text, const char* flag) {
  std::vector<double> out;
  std::string item;
  std::stringstream ss(text);
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    DISMAX_CHECK(!item.empty() && *end == '\0' && std::isfinite(v), flag, " '", text, "': '", item,
                 "' is not a number");
    out.push_back(v);
  }
  return out;
}
std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  TrainConfig c;
  const std::string config_file = config_file_argument(argc, argv);
  if (!config_file.empty()) {
    try {
      c = TrainConfig::parse(read_whole_file(config_file, "run configuration"), config_file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dismax-train: error: --config %s\n", e.what());
      return 1;
    }
  }
  std::string config_string, milestones, loss = config_file.empty() ? "softmax" : c.loss, recipe_name, rrc_scale,
                                         color_jitter;
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
  app.add_option("--config", config_string, "A run's config.json to replay (flags given override it), or an original "
                                            "config string, e.g. data~cifar10+model~resnet34+loss~dismax_std_std_fpr");
  app.add_option("--recipe", recipe_name, "Training preset: openood-v1.5 (OpenOOD's CIFAR trainer: lr 0.1, wd 5e-4, "
                                          "per-iteration cosine, 100 epochs, batch 128); flags given override it");
  auto* augment = app.add_option("--augment", c.augment.preset, "Augmentation preset: default (the dataset's), none, "
                                                               "cifar, imagenet, openood-cifar");
  app.add_option("--crop-padding", c.augment.crop_padding, "Random crop's zero padding (cifar presets; default 4)");
  app.add_option("--flip", c.augment.flip, "Horizontal flip probability (default 0.5; 0 = none)");
  app.add_option("--rrc-scale", rrc_scale, "RandomResizedCrop scale MIN,MAX (imagenet preset; default 0.08,1)");
  app.add_option("--color-jitter", color_jitter, "ColorJitter BRIGHTNESS,CONTRAST,SATURATION,HUE, e.g. 0.4,0.4,0.4,0.1");
  app.add_flag("--trivial-augment", c.augment.trivial_augment, "TrivialAugmentWide after the geometry");
  app.add_option("--random-erasing", c.augment.random_erasing, "RandomErasing probability (scale 0.02-0.33, ratio "
                                                               "0.3-3.3, zeros; after normalisation)");
  app.add_option("--cutout", c.augment.cutout, "Cutout square side in pixels (one hole; after normalisation)");
  app.add_option("--warmup-epochs", c.warmup_epochs, "Linear warm-up over this many epochs, per iteration");
  app.add_option("--min-lr", c.min_lr, "Floor of the cosine schedules");
  app.add_option("--label-smoothing", c.label_smoothing, "Label smoothing of the softmax loss (PyTorch's)");
  app.add_flag("--no-decay-bn-bias", c.no_decay_bn_bias, "No weight decay on BatchNorm parameters, biases and other "
                                                         "1-D parameters (timm's parameter groups)");
  auto* epochs = app.add_option("--epochs", c.epochs, "Epochs (default: the dataset's recipe)");
  auto* batch = app.add_option("--batch-size", c.batch_size, "Batch size (default: the dataset's recipe)");
  app.add_option("--lr", c.lr, "Initial learning rate")->capture_default_str();
  app.add_option("--momentum", c.momentum, "SGD momentum (Nesterov)")->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "L2 weight decay, on every trainable parameter")->capture_default_str();
  auto* ms = app.add_option("--milestones", milestones, "Comma-separated epochs after which lr is multiplied by --gamma");
  app.add_option("--gamma", c.gamma, "Learning-rate decay factor at each milestone")->capture_default_str();
  auto* schedule = app.add_option("--schedule", c.schedule, "multistep | cosine (per epoch) | cosine-iter (per iteration)")
                       ->capture_default_str();
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
    if (!rrc_scale.empty()) c.augment.rrc_scale = parse_numbers(rrc_scale, "--rrc-scale");
    if (!color_jitter.empty()) c.augment.color_jitter = parse_numbers(color_jitter, "--color-jitter");
    if (!config_file.empty()) config_string.clear();
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
    if (config_file.empty()) {  // a replayed config.json already holds its epochs, batch size and milestones
      if (epochs->count() == 0) c.epochs = recipe.epochs;
      if (batch->count() == 0) c.batch_size = recipe.batch_size;
      c.milestones = recipe.milestones;
    }
    if (ms->count()) c.milestones = parse_milestones(milestones);
    if (!recipe_name.empty()) {
      // The preset's values, except where a flag was given.
      TrainConfig preset = c;
      apply_recipe_preset(preset, recipe_name);
      c.recipe = preset.recipe;
      c.nesterov = preset.nesterov;
      auto take = [&](const char* flag, auto& field, const auto& value) {
        if (app.count(flag) == 0) field = value;
      };
      take("--epochs", c.epochs, preset.epochs);
      take("--batch-size", c.batch_size, preset.batch_size);
      take("--lr", c.lr, preset.lr);
      take("--momentum", c.momentum, preset.momentum);
      take("--weight-decay", c.weight_decay, preset.weight_decay);
      take("--schedule", c.schedule, preset.schedule);
      take("--min-lr", c.min_lr, preset.min_lr);
      take("--augment", c.augment.preset, preset.augment.preset);
    }
    (void)augment;
    (void)schedule;
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
