// Per-sample transforms with torchvision's semantics (SPEC §4.1): a list of image steps, the random ones
// drawing from a Generator the caller seeds per sample, then to float CHW with per-channel normalisation
// (x/255 - mean_c) / std_c, computed in float32 like ToTensor + Normalize. Each dataset's own transforms
// and constants are in datasets/registry.h.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "datasets/image.h"
#include "engine/generator.h"

namespace dismax {

struct Normalization {
  std::vector<float> mean;  // one per channel
  std::vector<float> std;
};

class Transform {
 public:
  using Step = std::function<Image(const Image&, Generator&)>;

  Transform() = default;  // no steps, x/255 (mean 0, std 1)
  Transform& then(std::string name, Step step);
  Transform& normalize(const Normalization& n);

  // Runs the steps; `gen` is the sample's own generator.
  Image augment(const Image& image, Generator& gen) const;
  // Writes the (C, H, W) float32 tensor of `image` to `out`; the image's channels must match the
  // normalisation's.
  void to_chw(const Image& image, float* out) const;
  std::string describe() const;  // "random_crop(32, pad 4) -> hflip(0.5) -> normalize(...)"

 private:
  struct Named {
    std::string name;
    Step step;
  };
  std::vector<Named> steps_;
  Normalization norm_;
  std::vector<std::array<float, 256>> lut_;  // per channel: (v/255 - mean) / std
};

// ---- steps (torchvision's transforms of the same names)

// RandomCrop(size, padding): zero-pad `padding` on every side, then a size x size crop at offsets uniform in
// [0, H + 2 padding - size] x [0, W + 2 padding - size].
Transform::Step random_crop(int size, int padding);
// RandomHorizontalFlip(p).
Transform::Step horizontal_flip(double p = 0.5);
// RandomResizedCrop(size, scale, ratio), bilinear: up to 10 draws of area fraction U(scale) and
// log-aspect U(log ratio); w = round(sqrt(area r)), h = round(sqrt(area / r)) (half to even, like Python);
// accepted when 0 < w <= W and 0 < h <= H, at top/left uniform; else the centred fallback crop. The crop is
// resized to size x size like PIL.
Transform::Step random_resized_crop(int size, double scale_min = 0.08, double scale_max = 1.0,
                                    double ratio_min = 3.0 / 4.0, double ratio_max = 4.0 / 3.0);
// Resize(size) with an int: shorter side to `size`, longer side int(size * long / short).
Transform::Step resize_shorter(int size);
// Resize((height, width)): exact size; a copy when already that size.
Transform::Step resize(int width, int height);
// CenterCrop(size): offsets round((H - size) / 2), round((W - size) / 2) (half to even); zero-padded first
// when the image is smaller.
Transform::Step center_crop(int size);
Transform::Step rgb();   // grey replicated to 3 channels
Transform::Step grey();  // PIL's convert("L")

// The crop RandomResizedCrop picks for a width x height image: {left, top, crop width, crop height}.
std::array<int, 4> random_resized_crop_box(int width, int height, Generator& gen, double scale_min = 0.08,
                                           double scale_max = 1.0, double ratio_min = 3.0 / 4.0,
                                           double ratio_max = 4.0 / 3.0);

}  // namespace dismax
