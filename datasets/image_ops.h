// Deterministic image operations with the semantics of torchvision 0.14's functional API on PIL images
// (Pillow 9.4's C code underneath): the colour adjustments of ColorJitter, the ops of TrivialAugmentWide and
// the nearest-neighbour affine warps they use. All work on 8-bit 1- or 3-channel images and return a new
// image of the same size and channels; an empty image comes back empty. Every result is bit-exact with PIL
// (tests/test_image_ops.cpp checks each against tests/reference/image_ops.safetensors).
//
// Exactness: PIL computes in float32 / float64 with one rounding per operation (its x86-64 build has no
// FMA). The code here keeps each product rounded on its own, so that a compiler allowed to contract a*b+c
// into an FMA (GCC's default for C++ with -march=native on an FMA machine) cannot change a result;
// compiling this file with -ffp-contract=off is still the belt to those braces. No -ffast-math.
// Random choices (factors, op, bin, sign) are the caller's.
#pragma once

#include <array>
#include <optional>

#include "datasets/image.h"

namespace dismax {

// ---- colour: PIL.ImageEnhance (Image.blend of a "degenerate" image and the image, in float32:
// out = trunc(degenerate + f (image - degenerate)), clipped to [0, 255]; f = (float)factor).
// The factors must be finite and >= 0 (PIL would extrapolate below 0; torchvision's tensor path refuses
// it, and so do these); 0 gives the degenerate image, 1 the image itself, above 1 extrapolates.

// F.adjust_brightness / ImageEnhance.Brightness: degenerate = black.
Image adjust_brightness(const Image& image, double factor);
// F.adjust_contrast / ImageEnhance.Contrast: degenerate = a uniform grey of the mean of the image's "L"
// conversion (to_grey), int(mean + 0.5).
Image adjust_contrast(const Image& image, double factor);
// F.adjust_saturation / ImageEnhance.Color: degenerate = the "L" conversion back in RGB. A grey image is
// returned unchanged (its degenerate is itself).
Image adjust_saturation(const Image& image, double factor);
// F.adjust_sharpness / ImageEnhance.Sharpness: degenerate = PIL's SMOOTH filter (3x3 kernel 1 1 1 / 1 5 1 /
// 1 1 1 over 13, float32, +0.5 and truncated), whose one-pixel border is the image's own, so the border is
// never changed; an image under 3 pixels in width or height is returned unchanged.
Image adjust_sharpness(const Image& image, double factor);
// F.adjust_hue on PIL: RGB -> PIL's 8-bit HSV, H += uint8(trunc(hue_factor * 255)) with wrap-around, back to
// RGB with PIL's conversion. hue_factor must be in [-0.5, 0.5]. A grey image is returned unchanged.
Image adjust_hue(const Image& image, double hue_factor);

// ---- tone: PIL.ImageOps through a lookup table, each channel on its own.

// F.posterize / ImageOps.posterize: keeps the `bits` high bits of each value; bits in [0, 8] (8 = copy,
// 0 = black).
Image posterize(const Image& image, int bits);
// F.solarize / ImageOps.solarize: values v >= threshold become 255 - v (any threshold but NaN; 256 or
// more changes nothing, 0 or less inverts everything).
Image solarize(const Image& image, double threshold);
// F.autocontrast / ImageOps.autocontrast(cutoff 0): per channel, [lo, hi] of the values present is
// stretched to [0, 255] with lut = clip(int(v * 255/(hi-lo) - lo * 255/(hi-lo))); a channel with one value
// is left unchanged.
Image autocontrast(const Image& image);
// F.equalize / ImageOps.equalize: per channel, PIL's histogram equalisation (step = (count - count of the
// highest value present) // 255; lut[v] = (step // 2 + count below v) // step, clipped to 255); a channel
// with one value, or step 0, is left unchanged.
Image equalize(const Image& image);

// ---- geometry: nearest neighbour, fill 0, output the size of the input.

// F.affine(img, angle, [translate_x, translate_y], scale, [shear_x, shear_y], NEAREST, fill None, center)
// on PIL: the inverse of T * C * R(angle) S(scale) SHy SHx * C^-1 (torchvision's _get_inverse_affine_matrix,
// angle clockwise in degrees, shears in degrees) sampled by PIL's Image.transform(AFFINE, NEAREST) at
// pixel centres: its scale-only path when the matrix has no cross terms, its 16.16 fixed-point path when
// the image's corners map within +-32768, its floating-point path otherwise. scale must be > 0 and the
// numbers finite. center defaults to (width / 2, height / 2); torchvision passes integer translations
// (TrivialAugmentWide truncates its magnitude), any value is accepted here.
struct AffineParams {
  double angle = 0;
  double translate_x = 0;
  double translate_y = 0;
  double scale = 1;
  double shear_x = 0;
  double shear_y = 0;
  std::optional<std::array<double, 2>> center;  // (x, y) in pixels from the top-left corner
};
Image affine(const Image& image, const AffineParams& params);

// F.rotate(img, angle, NEAREST, expand False, center None, fill None) on PIL: Image.rotate, counter-
// clockwise in degrees about (width / 2, height / 2). Like PIL, angle % 360 of 0 is a copy, 180 an exact
// half turn, 90 / 270 an exact quarter turn when the image is square; otherwise the affine warp with the
// cosine and sine rounded to 15 decimals. angle must be finite.
Image rotate(const Image& image, double angle);

// The geometric ops of TrivialAugmentWide, as torchvision's _apply_op calls F.affine for them.
// shear_x(img, d): affine(angle 0, translate 0, scale 1, shear (d, 0), center (0, 0)); shear_y likewise
// with shear (0, d). TrivialAugmentWide passes d = degrees(atan(magnitude)).
Image shear_x(const Image& image, double degrees);
Image shear_y(const Image& image, double degrees);
// translate_x(img, p): affine(angle 0, translate (p, 0), scale 1, shear 0, centre of the image).
Image translate_x(const Image& image, int pixels);
Image translate_y(const Image& image, int pixels);

// ---- TrivialAugmentWide (torchvision 0.14, num_magnitude_bins 31): the ops of _augmentation_space, in its
// order. Its forward draws op = randint(14); then, only for an op with magnitudes, bin = randint(31); then,
// only for a signed op, negate = randint(2) (== 1); the caller draws these.
constexpr int kTrivialAugmentOps = 14;
constexpr int kTrivialAugmentBins = 31;

struct TrivialAugmentOp {
  const char* name;    // torchvision's op name: "Identity", "ShearX", ...
  bool has_magnitudes;  // false: magnitude 0 and no bin drawn (Identity, AutoContrast, Equalize)
  bool is_signed;       // a sign is drawn (the op takes -magnitude when negated)
};

// The op at `op_index` in [0, 14).
const TrivialAugmentOp& trivial_augment_op(int op_index);
const char* trivial_augment_op_name(int op_index);
// The magnitude _apply_op receives: the bin's value of torch's float32 table (torch.linspace as torch
// 1.13's CPU kernel rounds it, or the Posterize integers 8 - round(bin / 5)), negated when `negate` and the
// op is signed; 0 for an op without magnitudes. bin in [0, 31) (ignored, with negate, where unused).
double trivial_augment_magnitude(int op_index, int magnitude_bin, bool negate);
// _apply_op(img, name, magnitude, NEAREST, fill None) on PIL: Identity copy, ShearX/Y shear_x/y with
// degrees(atan(m)), TranslateX/Y translate_x/y by int(m), Rotate rotate(m), Brightness / Color / Contrast /
// Sharpness adjust_*(1 + m), Posterize posterize(int(m)), Solarize solarize(m), AutoContrast, Equalize.
Image trivial_augment_apply(const Image& image, int op_index, int magnitude_bin, bool negate);

}  // namespace dismax
