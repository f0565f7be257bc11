// Learning-rate schedules with PyTorch's semantics. Stepped once per epoch: after `epochs_done` scheduler
// steps, MultiStepLR gives base * gamma^(number of milestones <= epochs_done) and CosineAnnealingLR gives
// eta_min + (base - eta_min) * (1 + cos(pi * epochs_done / T_max)) / 2. Stepped once per batch (the
// optimizer step `step`, from 0): IterationCosineLR (OpenOOD's LambdaLR cosine_annealing) and a linear
// warm-up in front of any schedule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dismax {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr_at(int64_t epochs_done) const = 0;
  // The rate of optimizer step `step` (from 0) of a run with `steps_per_epoch` batches per epoch; an
  // epoch schedule keeps its epoch's rate for all of the epoch's steps.
  virtual double lr_at_step(int64_t step, int64_t steps_per_epoch) const { return lr_at(step / steps_per_epoch); }
  virtual std::string describe() const = 0;
};

class MultiStepLR : public LrSchedule {
 public:
  MultiStepLR(double base_lr, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t epochs_done) const override;
  std::string describe() const override;

 private:
  double base_lr_, gamma_;
  std::vector<int64_t> milestones_;
};

class CosineAnnealingLR : public LrSchedule {
 public:
  CosineAnnealingLR(double base_lr, int64_t t_max, double eta_min = 0.0);
  double lr_at(int64_t epochs_done) const override;
  std::string describe() const override;

 private:
  double base_lr_, eta_min_;
  int64_t t_max_;
};

// Per-iteration cosine over `epochs` epochs: eta_min + (base - eta_min) * (1 + cos(pi * step / total)) / 2,
// total = epochs * steps_per_epoch (OpenOOD v1.5's trainer: LambdaLR of cosine_annealing, eta_min 1e-6).
class IterationCosineLR : public LrSchedule {
 public:
  IterationCosineLR(double base_lr, int64_t epochs, double eta_min = 0.0);
  double lr_at(int64_t epochs_done) const override { return lr_at_step(epochs_done, 1); }
  double lr_at_step(int64_t step, int64_t steps_per_epoch) const override;
  std::string describe() const override;
  double total_steps(int64_t steps_per_epoch) const { return static_cast<double>(epochs_) * steps_per_epoch; }
  double lr_at_progress(double progress) const;  // progress in [0, 1] of the annealing

 private:
  double base_lr_, eta_min_;
  int64_t epochs_;
};

// Linear warm-up over the first `warmup_epochs` (fractional allowed) epochs' steps W: step s < W runs at
// base * (s + 1) / W, then `after` takes over. When `after` is per-iteration cosine it anneals over the
// steps that remain (progress (s - W) / (total - W)), so that the rate falls from base to eta_min over
// the rest of the run, as Hugging Face's get_cosine_schedule_with_warmup and timm do.
class LinearWarmupLR : public LrSchedule {
 public:
  LinearWarmupLR(double base_lr, double warmup_epochs, std::unique_ptr<LrSchedule> after);
  double lr_at(int64_t epochs_done) const override { return lr_at_step(epochs_done, 1); }
  double lr_at_step(int64_t step, int64_t steps_per_epoch) const override;
  std::string describe() const override;

 private:
  double base_lr_, warmup_epochs_;
  std::unique_ptr<LrSchedule> after_;
};

}  // namespace dismax
