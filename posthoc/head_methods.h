// Internal to posthoc/: the factories of each family of methods (method.cpp dispatches to them).
#pragma once

#include <memory>
#include <string>

#include "posthoc/method.h"

namespace dismax {

// The head-output scores and GEN; null when `canonical` is none of them.
std::unique_ptr<PosthocMethod> make_head_output_method(const std::string& canonical, const PosthocOptions& options);
// Mahalanobis, KNN, ReAct, ASH-S and ViM; null when `canonical` is none of them.
std::unique_ptr<PosthocMethod> make_feature_method(const std::string& canonical, Module& head,
                                                   const PosthocOptions& options);

}  // namespace dismax
