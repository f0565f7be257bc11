// Everything the project knows about each named dataset, in one table: its class count, image channels,
// normalisation, on-disk layout, training and inference transforms, and training recipe. A dataset is
// added by adding a row (datasets/registry.cpp). The names are a stable contract: cifar10, cifar100, svhn,
// mnist, fashion-mnist, imagenet, folder.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "datasets/layouts.h"
#include "datasets/transforms.h"

namespace dismax {

// SPEC §5: the epochs, batch size and learning-rate milestones of a training run on the dataset.
struct Recipe {
  int64_t epochs = 0, batch_size = 0;
  std::vector<int64_t> milestones;
};

struct DatasetInfo {
  std::string name;
  int64_t num_classes = 0;  // 0: from the data (image folders)
  int channels = 3;         // of the images a model trained on it sees
  // SPEC §4.1. None for sets used only as OOD sets: they take the in-distribution set's.
  std::optional<Normalization> normalization;
  // None for evaluation / OOD sets: dismax-train refuses them.
  std::optional<Recipe> recipe;
  // The image steps before normalisation (SPEC §4.1); null where there is no normalisation.
  Transform (*train_steps)() = nullptr;
  Transform (*eval_steps)() = nullptr;  // also applied to this model's OOD sets
  LayoutOpener open = nullptr;
};

// The rows, in the order they are documented.
const std::vector<DatasetInfo>& dataset_registry();
// The row of `name`; throws "unknown dataset 'x' (known: ...)".
const DatasetInfo& dataset_info(const std::string& name);

// Known names, in the order they are documented.
const std::vector<std::string>& dataset_names();
// The datasets with a training recipe; the others are evaluation / OOD sets.
const std::vector<std::string>& training_dataset_names();

// Finds `name`'s files under `root` for `split` ("train" or "test"; imagenet's "test" is its val folder, and
// "val" is accepted too; svhn also has "extra"). `folder` uses root/split when that is a folder, else root
// itself. Throws naming every path it looked for when nothing is found.
std::shared_ptr<const Dataset> open_dataset(const std::string& name, const std::string& root,
                                            const std::string& split, const DatasetOptions& options = {});

// The dataset's normalisation; throws for OOD-only sets (svhn, folder), whose inputs take the
// in-distribution dataset's.
Normalization normalization_for(const std::string& dataset);
// Training: cifar10/cifar100: random_crop(32, 4), flip, normalise; imagenet: random_resized_crop(224), flip,
// normalise; mnist/fashion-mnist: normalise only.
Transform train_transform(const std::string& dataset);
// Inference for a model trained on `in_distribution`, also applied to its OOD sets: cifar10/cifar100:
// rgb, resize to 32x32 (no-op on 32x32 images; lets MNIST-like digits be OOD sets), normalise; imagenet:
// rgb, resize_shorter(256), center_crop(224), normalise; mnist/fashion-mnist: grey, resize 28x28, normalise.
Transform eval_transform(const std::string& in_distribution);

}  // namespace dismax
