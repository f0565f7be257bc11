// dismax-eval's work (SPEC §2, §6): classification accuracy, NLL and 15-bin ECE before and after temperature
// calibration, and OOD detection for every OOD set and score, written as results.json, per-sample scores
// (scores/in_<dataset>.csv, scores/ood_<set>.csv) and logits (logits.safetensors: in.<dataset>.logits,
// in.<dataset>.labels, ood.<set>.logits) so metrics can be recomputed without the network, a Markdown table
// in the paper's layout (results.md, with a method x set table), every OOD metric per set and method
// (ood_metrics.csv), OpenOOD v1.5's ood.csv, and PNG plots (plots/). OOD methods are the head-output
// scores and the post-hoc methods of posthoc/ (those fitted on training features read the in-distribution
// training split, without the validation part when the run held one out).
#pragma once

#include <string>
#include <vector>

#include "posthoc/method.h"

namespace dismax {

struct OodSource {
  std::string name;  // label in the results ("svhn", "lsun_resize", ...)
  std::string dataset;  // a dataset name, or "folder"
  std::string dir;
  std::string group;  // "near", "far" (OpenOOD's groups, each also reported as a mean) or ""
  std::string list;   // an OpenOOD image list read with `dir` as its image folder (else a folder or dataset)
};
// Parses NAME:DIR. NAME is a dataset name (cifar10, svhn, mnist, ...: its test split) or any other label
// for an image folder (imagenet_resize, lsun_resize, imagenet-o, ...). Throws naming the bad argument.
OodSource parse_ood(const std::string& text, const std::string& group = "");

struct EvalOptions {
  std::string checkpoint;
  // What a PyTorch .pth checkpoint cannot say itself (experiment/model_with_loss.h); dataset is `dataset`.
  std::string model, loss, config_string;
  double width = 0;
  std::string dataset;   // empty: from the checkpoint
  std::string data_dir;  // empty: from the checkpoint's training configuration
  std::vector<OodSource> ood;
  // OpenOOD v1.5's benchmark (experiment/openood_benchmark.h) read under data_root: its in-distribution
  // lists replace the dataset's splits and its near/far sets come before `ood`.
  std::string benchmark, data_root;
  std::string out = "eval";
  // OOD methods (posthoc/method.h names, and odin); empty: the head-output scores MPS ... maxlogit.
  std::vector<std::string> methods;
  PosthocOptions posthoc;
  int64_t fit_subset = 0;     // training features used to fit methods: 0 = all, else a fixed random N
  bool save_features = false;  // features.safetensors: features and head outputs of every set
  std::string calibrate_on;         // "validation" | "test" | "" (validation when the run held one out)
  std::string calibration_objective = "ECE";
  bool write_temperature = false;
  std::string numerics = "literal";
  int64_t batch_size = 0;  // 0: the training batch size
  int64_t max_samples = 0;  // 0: every sample of each set
  std::string device = "cpu";
  int threads = 0;
  int workers = 2;
  bool plots = true;
};

// Runs the evaluation and returns the results.json text it wrote.
std::string evaluate(const EvalOptions& options);

}  // namespace dismax
