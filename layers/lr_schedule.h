// Learning-rate schedules stepped once per epoch, with PyTorch's semantics: after `epochs_done`
// scheduler steps, MultiStepLR gives base * gamma^(number of milestones <= epochs_done) and
// CosineAnnealingLR gives eta_min + (base - eta_min) * (1 + cos(pi * epochs_done / T_max)) / 2.
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

}  // namespace dismax
