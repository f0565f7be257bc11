// Training augmentation as PyTorch recipes state it: a preset for the geometry whose parts can be changed,
// then the optional colour, TrivialAugment and erasing steps, in the order torchvision recipes use:
//   preset geometry -> color_jitter -> trivial_augment -> normalize -> random_erasing -> cutout
// Every step has torchvision's semantics (datasets/transforms.h, datasets/image_ops.h).
#pragma once

#include <string>
#include <vector>

#include "datasets/transforms.h"

namespace dismax {

struct AugmentRecipe {
  // default: the dataset's own (SPEC §4.1: cifar for CIFAR, imagenet for ImageNet, none otherwise)
  // none: no geometry; cifar: RandomCrop(32, padding 4) then flip; imagenet: RandomResizedCrop(224) then flip;
  // openood-cifar: flip then RandomCrop(32, padding 4) (OpenOOD v1.5's CIFAR preprocessor)
  std::string preset = "default";
  int crop_padding = -1;             // cifar presets: RandomCrop's padding (-1: 4)
  double flip = -1;                  // horizontal flip probability (-1: 0.5; 0 removes it)
  std::vector<double> rrc_scale;     // imagenet: RandomResizedCrop's scale {min, max} (empty: 0.08, 1)
  std::vector<double> color_jitter;  // ColorJitter's brightness, contrast, saturation, hue (empty: none)
  bool trivial_augment = false;      // TrivialAugmentWide (31 bins, nearest, fill 0)
  double random_erasing = 0;         // RandomErasing's probability (0: none)
  int cutout = 0;                    // Cutout's square side (0: none)

  // Every value in range and meaningful for the preset, or an error naming its flag (--crop-padding without
  // a random crop, --rrc-scale without RandomResizedCrop, ...).
  void validate(const std::string& dataset) const;
  bool is_default() const;
};

const std::vector<std::string>& augment_presets();
// The preset "default" stands for on `dataset`.
std::string default_augment_preset(const std::string& dataset);

// The training transform of `dataset` under `recipe`, normalised with the dataset's constants. With the
// default recipe it is exactly the dataset's own training transform (datasets/registry.h).
Transform training_transform(const std::string& dataset, const AugmentRecipe& recipe);

// ColorJitter(brightness, contrast, saturation, hue): the four adjustments in a random order, each with a
// factor uniform in [max(0, 1 - b), 1 + b] (hue: [-h, h]); a zero argument leaves its adjustment out.
Transform::Step color_jitter(double brightness, double contrast, double saturation, double hue);
// TrivialAugmentWide: one operation of the 14 uniformly, a magnitude bin uniformly of 31, a random sign
// for the signed ones.
Transform::Step trivial_augment_wide();

}  // namespace dismax
