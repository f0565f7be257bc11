// dismax-eval: evaluates a checkpoint: accuracy, NLL and ECE before and after temperature calibration, and
// OOD detection (TNR at TPR 95, AUROC, detection accuracy, AUPR-in, AUPR-out, FPR at TPR 95) for every OOD
// set and method (the head-output scores and the post-hoc methods). Writes results.json, per-sample scores,
// logits, results.md, ood_metrics.csv, OpenOOD's ood.csv and plots into --out.
#include <CLI/CLI.hpp>
#include <new>

#include "datasets/image.h"
#include <cstdio>

#include "datasets/dataset.h"
#include "losses/scores.h"
#include "tools/eval/evaluator.h"

using namespace dismax;

int main(int argc, char** argv) {
  EvalOptions o;
  std::vector<std::string> ood, near_ood, far_ood, scores;
  bool no_plots = false;
  CLI::App app{"dismax-eval: classification, calibration and OOD-detection metrics of a dismax checkpoint"};
  app.add_option("--checkpoint", o.checkpoint, "Checkpoint: a .safetensors written by dismax-train, or a PyTorch "
                                               "torch.save state_dict (.pth, e.g. the original's best_model.pth)")->required();
  app.add_option("--dataset", o.dataset, "In-distribution dataset (default: the checkpoint's)");
  app.add_option("--model", o.model, "Architecture of a .pth checkpoint (resnet34, densenetbc100, wideresnet2810, ...)");
  app.add_option("--loss", o.loss, "Loss of a .pth checkpoint (softmax, dismax, dismax_std_std_fpr, ...)");
  app.add_option("--config", o.config_string, "The original's config string for a .pth checkpoint, e.g. "
                                              "data~cifar10+model~resnet34+loss~dismax_std_std_fpr");
  app.add_option("--width", o.width, "Channel-width multiplier of a .pth's architecture (default: as published)");
  app.add_option("--data-dir", o.data_dir, "Its folder (default: the one it was trained from)");
  app.add_option("--ood", ood, "OOD set NAME:DIR, repeatable; NAME is a dataset name (svhn, cifar100, mnist, ...) or "
                               "a label for an image folder (lsun_resize, imagenet_resize, imagenet-o, ...)");
  app.add_option("--near-ood", near_ood, "Near-OOD set NAME:DIR, repeatable (reported also as the 'nearood' mean)");
  app.add_option("--far-ood", far_ood, "Far-OOD set NAME:DIR, repeatable (reported also as the 'farood' mean)");
  app.add_option("--benchmark", o.benchmark, "OpenOOD v1.5's benchmark: openood-cifar10, openood-cifar100 or "
                                             "openood-imagenet (its in-distribution lists and near/far-OOD sets)");
  app.add_option("--data-root", o.data_root, "With --benchmark: OpenOOD's data folder (benchmark_imglist/, "
                                             "images_classic/, images_largescale/)");
  app.add_option("--out", o.out, "Output folder")->capture_default_str();
  app.add_option("--methods", o.methods, "OOD methods, repeatable or comma-separated (default: the head-output "
                                         "scores MPS ES MDS MMLS MMLES MMLEPS energy maxlogit); also msp, gen, odin, "
                                         "mahalanobis, knn, react, ash, vim")
      ->delimiter(',');
  app.add_option("--scores", scores, "Same as --methods (the earlier name)")->delimiter(',');
  app.add_option("--fit-subset", o.fit_subset, "Training features for the fitted methods (mahalanobis, knn, react, "
                                               "vim): 0 = all, else a fixed random N")->capture_default_str();
  app.add_flag("--save-features", o.save_features, "Write features.safetensors: penultimate features and head "
                                                   "outputs of every set (and of the training features fitted on)");
  PosthocOptions& p = o.posthoc;
  app.add_option("--gen-gamma", p.gen_gamma, "GEN's gamma")->capture_default_str();
  app.add_option("--gen-m", p.gen_m, "GEN's M (at most the class count)")->capture_default_str();
  app.add_option("--react-percentile", p.react_percentile, "ReAct's clipping percentile of the training features")
      ->capture_default_str();
  app.add_option("--ash-percentile", p.ash_percentile, "ASH-S's pruning percentile")->capture_default_str();
  app.add_option("--knn-k", p.knn_k, "KNN's K")->capture_default_str();
  app.add_option("--vim-dim", p.vim_dim, "ViM's principal dimension (0 = half the feature dimension)")
      ->capture_default_str();
  app.add_option("--odin-temperature", p.odin_temperature, "ODIN's temperature")->capture_default_str();
  app.add_option("--odin-noise", p.odin_noise, "ODIN's input perturbation (divided by each channel's std)")
      ->capture_default_str();
  app.add_option("--calibrate-on", o.calibrate_on, "validation (the training run's held-out split, the default when it "
                                                   "has one) or test (the paper's protocol)");
  app.add_option("--calibration-objective", o.calibration_objective, "ECE (as the paper) or NLL")->capture_default_str();
  app.add_flag("--write-temperature", o.write_temperature, "Store the calibrated temperature in the checkpoint");
  app.add_option("--numerics", o.numerics, "literal (p log p as the original; NaN where p = 0) or fused")
      ->capture_default_str();
  auto* batch_option = app.add_option("--batch-size", o.batch_size, "Batch size (default: the training batch size)");
  app.add_option("--max-samples", o.max_samples, "Evaluate only the first N samples of each set (0 = all)");
  app.add_option("--device", o.device, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0 = all cores)");
  app.add_option("--workers", o.workers, "Data-loading threads")->capture_default_str();
  app.add_flag("--no-plots", no_plots, "Skip the PNG plots");
  int64_t max_pixels = kDefaultMaxImagePixels;
  app.add_option("--max-image-pixels", max_pixels,
                 "Refuse image files that declare more pixels than this (decompression bombs; 0 = no limit); in "
                 "an OOD folder such a file is skipped and counted like any unreadable one")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    set_max_image_pixels(max_pixels);
    DISMAX_CHECK(!o.checkpoint.empty(), "--checkpoint must name a file");
    DISMAX_CHECK(!o.out.empty(), "--out must name a folder");
    DISMAX_CHECK(batch_option->count() == 0 || o.batch_size >= 1,
                 "--batch-size must be >= 1 (leave it out for the training batch size), got ", o.batch_size);
    DISMAX_CHECK(o.max_samples >= 0, "--max-samples must be >= 0 (0 = all), got ", o.max_samples);
    DISMAX_CHECK(o.threads >= 0 && o.workers >= 0, "--threads and --workers must be >= 0");
    for (const auto& s : near_ood) o.ood.push_back(parse_ood(s, "near"));
    for (const auto& s : far_ood) o.ood.push_back(parse_ood(s, "far"));
    for (const auto& s : ood) o.ood.push_back(parse_ood(s));
    o.methods.insert(o.methods.end(), scores.begin(), scores.end());
    o.plots = !no_plots;
    evaluate(o);
    std::printf("results in %s/results.json, %s/results.md\n", o.out.c_str(), o.out.c_str());
    return 0;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory (try a smaller --batch-size, model or dataset)\n", "dismax-eval");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dismax-eval: error: %s\n", e.what());
    return 1;
  }
}
