#include "models/model.h"

#include "layers/linear.h"

namespace dismax {

Tensor Model::forward(const Tensor& x) { return head_->forward(features(x)); }

void Model::add_linear_head(const std::string& name, int64_t feature_dim, Generator& gen) {
  feature_dim_ = feature_dim;
  head_name_ = name;
  head_ = register_module(name, std::make_shared<Linear>(feature_dim, num_classes_, gen));
}

void Model::set_head(std::shared_ptr<Module> head) {
  DISMAX_CHECK(head_ != nullptr, arch_, ": the model has no head to replace");
  head_ = replace_module(head_name_, std::move(head));
}

int64_t Model::backbone_parameter_count() const { return parameter_count() - head_->parameter_count(); }

}  // namespace dismax
