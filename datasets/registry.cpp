#include "datasets/registry.h"

#include <filesystem>

#include "engine/error.h"

namespace dismax {

namespace {

Transform cifar_train() {
  Transform t;
  t.then("random_crop(32, padding 4)", random_crop(32, 4)).then("hflip(0.5)", horizontal_flip(0.5));
  return t;
}
Transform cifar_eval() {
  Transform t;
  t.then("rgb", rgb()).then("resize(32x32)", resize(32, 32));
  return t;
}
Transform imagenet_train() {
  Transform t;
  t.then("random_resized_crop(224)", random_resized_crop(224)).then("hflip(0.5)", horizontal_flip(0.5));
  return t;
}
Transform imagenet_eval() {
  Transform t;
  t.then("rgb", rgb()).then("resize_shorter(256)", resize_shorter(256)).then("center_crop(224)", center_crop(224));
  return t;
}
Transform digits_train() { return Transform(); }
Transform digits_eval() {
  Transform t;
  t.then("grey", grey()).then("resize(28x28)", resize(28, 28));
  return t;
}

const Recipe kCifarRecipe{300, 64, {150, 200, 250}};
const Recipe kDigitsRecipe{20, 64, {10, 15}};  // MNIST-like: a short recipe, not from the paper

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::vector<std::string> names_where(bool (*keep)(const DatasetInfo&)) {
  std::vector<std::string> names;
  for (const auto& d : dataset_registry())
    if (keep(d)) names.push_back(d.name);
  return names;
}

}  // namespace

const std::vector<DatasetInfo>& dataset_registry() {
  static const std::vector<DatasetInfo> table = {
      {"cifar10", 10, 3, Normalization{{0.491f, 0.482f, 0.446f}, {0.247f, 0.243f, 0.261f}}, kCifarRecipe,
       cifar_train, cifar_eval, open_cifar_layout},
      {"cifar100", 100, 3, Normalization{{0.507f, 0.486f, 0.440f}, {0.267f, 0.256f, 0.276f}}, kCifarRecipe,
       cifar_train, cifar_eval, open_cifar_layout},
      {"svhn", 10, 3, std::nullopt, std::nullopt, nullptr, nullptr, open_svhn_layout},
      {"mnist", 10, 1, Normalization{{0.1307f}, {0.3081f}}, kDigitsRecipe, digits_train, digits_eval,
       open_idx_layout},
      {"fashion-mnist", 10, 1, Normalization{{0.2860f}, {0.3530f}}, kDigitsRecipe, digits_train, digits_eval,
       open_idx_layout},
      {"imagenet", 1000, 3, Normalization{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
       Recipe{90, 256, {30, 60}}, imagenet_train, imagenet_eval, open_imagenet_layout},
      {"folder", 0, 3, std::nullopt, std::nullopt, nullptr, nullptr, open_folder_layout},
  };
  return table;
}

const DatasetInfo& dataset_info(const std::string& name) {
  for (const auto& d : dataset_registry())
    if (d.name == name) return d;
  DISMAX_FAIL("unknown dataset '", name, "' (known: ", joined(dataset_names()), ")");
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = names_where([](const DatasetInfo&) { return true; });
  return names;
}

const std::vector<std::string>& training_dataset_names() {
  static const std::vector<std::string> names =
      names_where([](const DatasetInfo& d) { return d.recipe.has_value(); });
  return names;
}

std::shared_ptr<const Dataset> open_dataset(const std::string& name, const std::string& root,
                                            const std::string& split, const DatasetOptions& options) {
  const DatasetInfo& info = dataset_info(name);
  std::error_code ec;
  DISMAX_CHECK(std::filesystem::is_directory(root, ec), name, ": dataset folder ", root,
               " does not exist or is not a folder");
  return info.open(name, root, split, options);
}

Normalization normalization_for(const std::string& dataset) {
  const auto in_distribution = names_where([](const DatasetInfo& d) { return d.normalization.has_value(); });
  const DatasetInfo* info = nullptr;
  for (const auto& d : dataset_registry())
    if (d.name == dataset) info = &d;
  DISMAX_CHECK(info != nullptr && info->normalization, "no normalisation constants for dataset '", dataset,
               "' (known: ", joined(in_distribution),
               "; an OOD set such as svhn or a folder takes the in-distribution dataset's)");
  return *info->normalization;
}

Transform train_transform(const std::string& dataset) {
  const Normalization norm = normalization_for(dataset);
  return dataset_info(dataset).train_steps().normalize(norm);
}

Transform eval_transform(const std::string& in_distribution) {
  const Normalization norm = normalization_for(in_distribution);
  return dataset_info(in_distribution).eval_steps().normalize(norm);
}

}  // namespace dismax
