// One pass of a model over a set for dismax-eval: the penultimate features and the head's output of every
// readable sample, kept on the host for every OOD method, and, when asked, ODIN's scores (a forward and
// backward pass of its own per batch).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "datasets/transforms.h"
#include "engine/tensor.h"
#include "models/model.h"
#include "posthoc/method.h"

namespace dismax {

struct ForwardOptions {
  int64_t batch_size = 64;
  int workers = 2;
  int64_t max_samples = 0;  // 0: all; else the first N of the set
  Device device;
  bool odin = false;
  std::vector<float> channel_std;  // ODIN: the normalisation's std per channel
  double odin_temperature = 1000, odin_noise = 0.0014;
};

struct SetOutputs {
  std::string name;
  FeatureSet outputs;  // features (N, F), logits (N, C) float32 and labels (N) int64, host
  Tensor odin;         // (N) float64, host; undefined unless ForwardOptions::odin
  int64_t skipped = 0;  // unreadable images left out
  double forward_seconds = 0, odin_seconds = 0;  // wall time of the shared pass (with loading) and of ODIN
  int64_t size() const { return outputs.logits.size(0); }
};

// Throws naming the set when no sample of it could be read.
SetOutputs forward_pass(Model& model, const std::string& name, std::shared_ptr<const Dataset> data,
                        const Transform& transform, const ForwardOptions& options);

}  // namespace dismax
