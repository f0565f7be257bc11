#include "datasets/augment.h"

#include <array>
#include <cmath>
#include <sstream>

#include "datasets/image_ops.h"
#include "datasets/registry.h"
#include "engine/error.h"

namespace dismax {

namespace {

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

bool has_random_crop(const std::string& preset) { return preset == "cifar" || preset == "openood-cifar"; }

}  // namespace

const std::vector<std::string>& augment_presets() {
  static const std::vector<std::string> names = {"default", "none", "cifar", "imagenet", "openood-cifar"};
  return names;
}

std::string default_augment_preset(const std::string& dataset) {
  if (dataset == "cifar10" || dataset == "cifar100") return "cifar";
  if (dataset == "imagenet") return "imagenet";
  return "none";
}

bool AugmentRecipe::is_default() const {
  return preset == "default" && crop_padding < 0 && flip < 0 && rrc_scale.empty() && color_jitter.empty() &&
         !trivial_augment && random_erasing == 0 && cutout == 0;
}

void AugmentRecipe::validate(const std::string& dataset) const {
  bool known = false;
  for (const auto& p : augment_presets()) known |= p == preset;
  DISMAX_CHECK(known, "--augment must be one of default, none, cifar, imagenet, openood-cifar; got '", preset, "'");
  const std::string geometry = preset == "default" ? default_augment_preset(dataset) : preset;
  DISMAX_CHECK(crop_padding < 0 || has_random_crop(geometry), "--crop-padding needs a random crop (--augment cifar "
               "or openood-cifar); the augmentation of ", dataset, " is '", geometry, "'");
  DISMAX_CHECK(crop_padding < 64, "--crop-padding must be in [0, 64), got ", crop_padding);
  DISMAX_CHECK(flip < 0 || (flip <= 1 && geometry != "none"), "--flip must be a probability in [0, 1] with a preset "
               "that flips (cifar, imagenet, openood-cifar), got ", flip, " with '", geometry, "'");
  if (!rrc_scale.empty()) {
    DISMAX_CHECK(geometry == "imagenet", "--rrc-scale needs RandomResizedCrop (--augment imagenet); the "
                 "augmentation of ", dataset, " is '", geometry, "'");
    DISMAX_CHECK(rrc_scale.size() == 2 && 0 < rrc_scale[0] && rrc_scale[0] <= rrc_scale[1] && rrc_scale[1] <= 1,
                 "--rrc-scale must be MIN,MAX with 0 < MIN <= MAX <= 1");
  }
  if (!color_jitter.empty()) {
    DISMAX_CHECK(color_jitter.size() == 4, "--color-jitter must be BRIGHTNESS,CONTRAST,SATURATION,HUE (4 numbers), "
                 "got ", color_jitter.size());
    for (int i = 0; i < 3; ++i)
      DISMAX_CHECK(std::isfinite(color_jitter[i]) && color_jitter[i] >= 0, "--color-jitter: brightness, contrast "
                   "and saturation must be >= 0");
    DISMAX_CHECK(color_jitter[3] >= 0 && color_jitter[3] <= 0.5, "--color-jitter: hue must be in [0, 0.5], got ",
                 color_jitter[3]);
    DISMAX_CHECK(dataset_info(dataset).channels == 3, "--color-jitter needs RGB images; ", dataset, " is grey");
  }
  DISMAX_CHECK(random_erasing >= 0 && random_erasing <= 1, "--random-erasing must be a probability in [0, 1], got ",
               random_erasing);
  DISMAX_CHECK(cutout >= 0, "--cutout must be >= 0 (0 = none), got ", cutout);
}

Transform training_transform(const std::string& dataset, const AugmentRecipe& recipe) {
  recipe.validate(dataset);
  if (recipe.is_default()) return train_transform(dataset);
  const std::string geometry = recipe.preset == "default" ? default_augment_preset(dataset) : recipe.preset;
  const int padding = recipe.crop_padding >= 0 ? recipe.crop_padding : 4;
  const double flip = recipe.flip >= 0 ? recipe.flip : 0.5;
  const std::string crop_name = "random_crop(32, padding " + std::to_string(padding) + ")";
  const std::string flip_name = "hflip(" + number(flip) + ")";
  Transform t;
  if (geometry == "cifar") {
    t.then(crop_name, random_crop(32, padding));
    if (flip > 0) t.then(flip_name, horizontal_flip(flip));
  } else if (geometry == "openood-cifar") {
    if (flip > 0) t.then(flip_name, horizontal_flip(flip));
    t.then(crop_name, random_crop(32, padding));
  } else if (geometry == "imagenet") {
    const double lo = recipe.rrc_scale.empty() ? 0.08 : recipe.rrc_scale[0];
    const double hi = recipe.rrc_scale.empty() ? 1.0 : recipe.rrc_scale[1];
    t.then("rgb", rgb()).then("random_resized_crop(224, scale " + number(lo) + "-" + number(hi) + ")",
                              random_resized_crop(224, lo, hi));
    if (flip > 0) t.then(flip_name, horizontal_flip(flip));
  }
  if (!recipe.color_jitter.empty()) {
    const auto& j = recipe.color_jitter;
    t.then("color_jitter(" + number(j[0]) + ", " + number(j[1]) + ", " + number(j[2]) + ", " + number(j[3]) + ")",
           color_jitter(j[0], j[1], j[2], j[3]));
  }
  if (recipe.trivial_augment) t.then("trivial_augment_wide", trivial_augment_wide());
  t.normalize(normalization_for(dataset));
  if (recipe.random_erasing > 0)
    t.then_tensor("random_erasing(" + number(recipe.random_erasing) + ")", random_erasing(recipe.random_erasing));
  if (recipe.cutout > 0) t.then_tensor("cutout(" + std::to_string(recipe.cutout) + ")", cutout(recipe.cutout));
  return t;
}

Transform::Step color_jitter(double brightness, double contrast, double saturation, double hue) {
  return [=](const Image& image, Generator& gen) {
    std::array<int, 4> order = {0, 1, 2, 3};
    for (int i = 3; i > 0; --i) std::swap(order[i], order[gen.next_below(static_cast<uint64_t>(i + 1))]);
    auto factor = [&](double spread) { return std::max(0.0, 1 - spread) + (1 + spread - std::max(0.0, 1 - spread)) * gen.next_double(); };
    // Drawn in torchvision's order (brightness, contrast, saturation, hue), applied in the shuffled one.
    const double b = brightness > 0 ? factor(brightness) : 1, c = contrast > 0 ? factor(contrast) : 1;
    const double s = saturation > 0 ? factor(saturation) : 1, h = hue > 0 ? hue * (2 * gen.next_double() - 1) : 0;
    Image out = image;
    for (int op : order) {
      if (op == 0 && brightness > 0) out = adjust_brightness(out, b);
      if (op == 1 && contrast > 0) out = adjust_contrast(out, c);
      if (op == 2 && saturation > 0) out = adjust_saturation(out, s);
      if (op == 3 && hue > 0) out = adjust_hue(out, h);
    }
    return out;
  };
}

Transform::Step trivial_augment_wide() {
  return [](const Image& image, Generator& gen) {
    // As torchvision draws them: a bin only for an op with magnitudes, a sign only for a signed one.
    const int op = static_cast<int>(gen.next_below(static_cast<uint64_t>(kTrivialAugmentOps)));
    const TrivialAugmentOp& info = trivial_augment_op(op);
    const int bin = info.has_magnitudes ? static_cast<int>(gen.next_below(static_cast<uint64_t>(kTrivialAugmentBins))) : 0;
    const bool negate = info.is_signed && gen.next_below(2) == 1;
    return trivial_augment_apply(image, op, bin, negate);
  };
}

}  // namespace dismax
