#include "posthoc/method.h"

#include <cctype>

#include "engine/error.h"
#include "losses/scores.h"
#include "posthoc/head_methods.h"

namespace dismax {

std::vector<std::string> posthoc_method_names() {
  std::vector<std::string> names;
  for (Score s : all_scores()) names.push_back(score_name(s));
  for (const char* n : {"gen", "odin", "mahalanobis", "knn", "react", "ash", "vim"}) names.push_back(n);
  return names;
}

std::string canonical_method_name(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "msp") lower = "mps";
  if (lower == "ash-s" || lower == "ash_s") lower = "ash";
  for (const auto& known : posthoc_method_names()) {
    std::string k;
    for (char c : known) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (k == lower) return known;
  }
  std::string list;
  for (const auto& n : posthoc_method_names()) list += (list.empty() ? "" : ", ") + n;
  DISMAX_FAIL("unknown OOD method '", name, "' (known: ", list, "; msp = MPS)");
}

std::unique_ptr<PosthocMethod> make_posthoc_method(const std::string& name, Module& head, const PosthocOptions& o) {
  const std::string canonical = canonical_method_name(name);
  DISMAX_CHECK(canonical != "odin", "make_posthoc_method: odin needs the model's input gradient (posthoc/odin.h)");
  if (auto m = make_head_output_method(canonical, o)) return m;
  if (auto m = make_feature_method(canonical, head, o)) return m;
  DISMAX_FAIL("make_posthoc_method: no implementation of '", canonical, "'");
}

}  // namespace dismax
