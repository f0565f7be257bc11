#include "posthoc/method.h"

#include <cctype>

#include "engine/error.h"
#include "losses/scores.h"
#include "posthoc/head_methods.h"

namespace dismax {

std::vector<std::string> posthoc_method_names() {
  std::vector<std::string> names;
  for (Score s : all_scores()) names.push_back(score_name(s));
  for (const char* n : {"gen", "odin", "mahalanobis", "knn", "react", "ash-s", "ash-b", "vim"}) names.push_back(n);
  return names;
}

std::string canonical_method_name(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // OpenOOD's names for the same scores (its "mds" is Mahalanobis; ours is the distance heads' MDS).
  if (lower == "msp") lower = "mps";
  if (lower == "ebo") lower = "energy";
  if (lower == "mls") lower = "maxlogit";
  if (lower == "ash_s") lower = "ash-s";
  if (lower == "ash_b") lower = "ash-b";
  DISMAX_CHECK(lower != "ash", "--methods: 'ash' is ambiguous: ash-s (the ASH paper's scaling) or ash-b (what OpenOOD "
                               "v1.5's ash postprocessor computes)");
  for (const auto& known : posthoc_method_names()) {
    std::string k;
    for (char c : known) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (k == lower) return known;
  }
  std::string list;
  for (const auto& n : posthoc_method_names()) list += (list.empty() ? "" : ", ") + n;
  DISMAX_FAIL("--methods: unknown OOD method '", name, "' (known: ", list,
              "; msp = MPS, ebo = energy, mls = maxlogit; OpenOOD's mds is mahalanobis here)");
}

std::unique_ptr<PosthocMethod> make_posthoc_method(const std::string& name, Module& head, const PosthocOptions& o) {
  const std::string canonical = canonical_method_name(name);
  DISMAX_CHECK(canonical != "odin", "make_posthoc_method: odin needs the model's input gradient (posthoc/odin.h)");
  if (auto m = make_head_output_method(canonical, o)) return m;
  if (auto m = make_feature_method(canonical, head, o)) return m;
  DISMAX_FAIL("make_posthoc_method: no implementation of '", canonical, "'");
}

}  // namespace dismax
