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
  // A step on the normalised (C, H, W) float32 tensor, in place (torchvision's RandomErasing after Normalize).
  using TensorStep = std::function<void(float* chw, int channels, int height, int width, Generator&)>;

  Transform() = default;  // no steps, x/255 (mean 0, std 1)
  Transform& then(std::string name, Step step);
  Transform& normalize(const Normalization& n);
  // Runs after the normalisation, in the order added.
  Transform& then_tensor(std::string name, TensorStep step);

  // Runs the steps; `gen` is the sample's own generator.
  Image augment(const Image& image, Generator& gen) const;
  // Writes the (C, H, W) float32 tensor of `image` to `out`; the image's channels must match the
  // normalisation's. The tensor steps are not run.
  void to_chw(const Image& image, float* out) const;
  // to_chw, then the tensor steps drawing from `gen` (the sample's generator, after augment()).
  void to_chw(const Image& image, float* out, Generator& gen) const;
  std::string describe() const;  // "random_crop(32, pad 4) -> hflip(0.5) -> normalize(...)"

 private:
  struct Named {
    std::string name;
    Step step;
  };
  struct NamedTensorStep {
    std::string name;
    TensorStep step;
  };
  std::vector<Named> steps_;
  std::vector<NamedTensorStep> tensor_steps_;
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

// RandomErasing(p, scale, ratio, value=0) on the normalised tensor: with probability p, up to 10 draws of an
// area fraction U(scale) and log-aspect U(log ratio), h = round(sqrt(area r)), w = round(sqrt(area / r))
// (half to even); the first with h < H and w < W is zeroed at top U{0..H-h}, left U{0..W-w}, every channel.
Transform::TensorStep random_erasing(double p = 0.5, double scale_min = 0.02, double scale_max = 0.33,
                                     double ratio_min = 0.3, double ratio_max = 3.3);
// Cutout (DeVries and Taylor 2017, one hole): a size x size square centred at a uniform pixel, clipped to the
// image, zeroed in the normalised tensor.
Transform::TensorStep cutout(int size);

// The crop RandomResizedCrop picks for a width x height image: {left, top, crop width, crop height}.
std::array<int, 4> random_resized_crop_box(int width, int height, Generator& gen, double scale_min = 0.08,
                                           double scale_max = 1.0, double ratio_min = 3.0 / 4.0,
                                           double ratio_max = 4.0 / 3.0);

}  // namespace dismax
