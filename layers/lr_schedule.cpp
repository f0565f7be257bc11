#include "layers/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace dismax {

MultiStepLR::MultiStepLR(double base_lr, std::vector<int64_t> milestones, double gamma)
    : base_lr_(base_lr), gamma_(gamma), milestones_(std::move(milestones)) {
  DISMAX_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()), "MultiStepLR: milestones must be increasing");
}

double MultiStepLR::lr_at(int64_t epochs_done) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epochs_done) - milestones_.begin();
  return base_lr_ * std::pow(gamma_, static_cast<double>(passed));
}

std::string MultiStepLR::describe() const {
  std::ostringstream os;
  os << "multistep(lr=" << base_lr_ << ", gamma=" << gamma_ << ", milestones=";
  for (size_t i = 0; i < milestones_.size(); ++i) os << (i ? "," : "") << milestones_[i];
  os << ")";
  return os.str();
}

CosineAnnealingLR::CosineAnnealingLR(double base_lr, int64_t t_max, double eta_min)
    : base_lr_(base_lr), eta_min_(eta_min), t_max_(t_max) {
  DISMAX_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be > 0, got ", t_max);
}

double CosineAnnealingLR::lr_at(int64_t epochs_done) const {
  return eta_min_ + (base_lr_ - eta_min_) * (1.0 + std::cos(M_PI * static_cast<double>(epochs_done) / t_max_)) / 2.0;
}

std::string CosineAnnealingLR::describe() const {
  std::ostringstream os;
  os << "cosine(lr=" << base_lr_ << ", T_max=" << t_max_ << ", eta_min=" << eta_min_ << ")";
  return os.str();
}

IterationCosineLR::IterationCosineLR(double base_lr, int64_t epochs, double eta_min)
    : base_lr_(base_lr), eta_min_(eta_min), epochs_(epochs) {
  DISMAX_CHECK(epochs > 0, "IterationCosineLR: epochs must be > 0, got ", epochs);
}

double IterationCosineLR::lr_at_step(int64_t step, int64_t steps_per_epoch) const {
  return lr_at_progress(static_cast<double>(step) / total_steps(steps_per_epoch));
}

double IterationCosineLR::lr_at_progress(double progress) const {
  return eta_min_ + (base_lr_ - eta_min_) * (1.0 + std::cos(M_PI * progress)) / 2.0;
}

std::string IterationCosineLR::describe() const {
  std::ostringstream os;
  os << "cosine per iteration(lr=" << base_lr_ << ", epochs=" << epochs_ << ", eta_min=" << eta_min_ << ")";
  return os.str();
}

LinearWarmupLR::LinearWarmupLR(double base_lr, double warmup_epochs, std::unique_ptr<LrSchedule> after)
    : base_lr_(base_lr), warmup_epochs_(warmup_epochs), after_(std::move(after)) {
  DISMAX_CHECK(std::isfinite(warmup_epochs) && warmup_epochs >= 0, "LinearWarmupLR: warm-up epochs must be >= 0, got ",
               warmup_epochs);
  DISMAX_CHECK(after_ != nullptr, "LinearWarmupLR: no schedule after the warm-up");
}

double LinearWarmupLR::lr_at_step(int64_t step, int64_t steps_per_epoch) const {
  const auto warmup = static_cast<int64_t>(std::llround(warmup_epochs_ * static_cast<double>(steps_per_epoch)));
  if (step < warmup) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (const auto* cosine = dynamic_cast<const IterationCosineLR*>(after_.get())) {
    // The cosine runs over the steps after the warm-up: the same curve, compressed.
    const double total = cosine->total_steps(steps_per_epoch);
    const double progress = (static_cast<double>(step - warmup)) / std::max(1.0, total - static_cast<double>(warmup));
    return cosine->lr_at_progress(progress);
  }
  return after_->lr_at_step(step, steps_per_epoch);
}

std::string LinearWarmupLR::describe() const {
  std::ostringstream os;
  os << "linear warm-up(" << warmup_epochs_ << " epochs) then " << after_->describe();
  return os.str();
}

}  // namespace dismax
