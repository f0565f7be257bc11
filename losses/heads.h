// The first parts of the losses: heads that replace a model's last Linear layer and map features (B, F)
// to logits (B, C), with the original code's parameter names so checkpoints interoperate (SPEC §1).
// Every head divides its logits by a non-trainable `temperature` (1 unless calibration sets it).
#pragma once

#include <string>

#include "engine/generator.h"
#include "layers/module.h"

namespace dismax {

class LossHead : public Module {
 public:
  double temperature() const;
  void set_temperature(double t);  // for calibration; T > 0
  virtual std::string loss_name() const = 0;  // "softmax", "isomax", "isomaxplus", "dismax"
  // The raw signed distance scale (1 for heads without one), for the training statistics.
  virtual double distance_scale_value() const { return 1.0; }

 protected:
  Tensor temperature_;  // [1], non-trainable parameter
};

// SoftMax baseline: z = (f W^T + b) / T; `weights` (C, F) ~ U(-sqrt(1/F), sqrt(1/F)), `bias` zeros.
class SoftMaxHead : public LossHead {
 public:
  SoftMaxHead(int64_t num_features, int64_t num_classes, Generator& gen);
  Tensor forward(const Tensor& features) override;
  std::string type_name() const override { return "SoftMaxLossFirstPart"; }
  std::string extra_repr() const override;
  std::string loss_name() const override { return "softmax"; }
  Tensor weights, bias;
};

// IsoMax: z = -||f - p_j|| / T with `prototypes` initialised to zeros.
class IsoMaxHead : public LossHead {
 public:
  IsoMaxHead(int64_t num_features, int64_t num_classes);
  Tensor forward(const Tensor& features) override;
  std::string type_name() const override { return "IsoMaxLossFirstPart"; }
  std::string extra_repr() const override;
  std::string loss_name() const override { return "isomax"; }
  Tensor prototypes;
};

// IsoMax+: z = -|s| * ||normalize(f) - normalize(p_j)|| / T; prototypes ~ N(0, 1), distance_scale s = 1.
class IsoMaxPlusHead : public LossHead {
 public:
  IsoMaxPlusHead(int64_t num_features, int64_t num_classes, Generator& gen);
  Tensor forward(const Tensor& features) override;
  std::string type_name() const override { return "IsoMaxPlusLossFirstPart"; }
  std::string extra_repr() const override;
  std::string loss_name() const override { return "isomaxplus"; }
  double distance_scale_value() const override;
  Tensor prototypes, distance_scale;
};

// DisMax: d = ||normalize(f) - normalize(p_j)|| / sqrt(2), D = |s| d, z = -(D + mean_k D) / T.
// Also holds the original's `validationset_available` flag and the [2, 25] `precomputed_thresholds`
// (row 0 train, row 1 validation; NaN until computed, where the original left memory uninitialised).
class DisMaxHead : public LossHead {
 public:
  DisMaxHead(int64_t num_features, int64_t num_classes, Generator& gen);
  Tensor forward(const Tensor& features) override;
  std::string type_name() const override { return "DisMaxLossFirstPart"; }
  std::string extra_repr() const override;
  std::string loss_name() const override { return "dismax"; }
  double distance_scale_value() const override;
  Tensor distance_scale, prototypes, validationset_available, precomputed_thresholds;
};

}  // namespace dismax
