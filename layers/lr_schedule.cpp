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

}  // namespace dismax
