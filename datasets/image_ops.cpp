#include "datasets/image_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace dismax {
namespace {

// ---- arithmetic exactly as PIL's C (float32 / float64, each operation rounded, no FMA) and Python

// v * k rounded to float32, as C's int * float. The product is exact in double, so this is the float
// product; the narrowing conversion keeps the compiler from fusing it with a following addition.
float float_product(int v, float k) { return static_cast<float>(static_cast<double>(v) * k); }

// a * b in double, rounded before the caller adds anything to it (a fused multiply-add would round once
// where Python and PIL round twice).
double separate_product(double a, double b) {
  volatile double p = a * b;
  return p;
}

// PIL's clip8 / blend clipping: truncation toward zero after clamping to [0, 255].
uint8_t truncate_to_uint8(float v) {
  if (v <= 0.0f) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(v);
}

uint8_t clamp_to_uint8(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

constexpr double kPi = 3.14159265358979323846;
double radians(double degrees) { return degrees * (kPi / 180.0); }  // Python's math.radians
double degrees(double radians) { return radians * (180.0 / kPi); }  // Python's math.degrees

// Python's float x % m: the remainder takes the sign of m.
double python_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r != 0.0) {
    if ((m < 0) != (r < 0)) r += m;
  } else {
    r = std::copysign(0.0, m);
  }
  return r;
}

// Python's round(x, digits) on a float: the correctly rounded decimal, read back to the nearest double
// (glibc's printf and strtod are both exact, like CPython's dtoa).
double python_round(double x, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, x);
  return std::strtod(text, nullptr);
}

void check_factor(const char* op, const char* what, double factor) {
  DISMAX_CHECK(std::isfinite(factor) && factor >= 0, op, ": ", what, " must be finite and >= 0, got ", factor);
}

// ---- ImageEnhance

// Image.blend(degenerate, image, factor): alpha is a C float; (int)in1 + alpha * (in2 - in1) in float.
Image blend(const Image& degenerate, const Image& image, double factor) {
  const float alpha = static_cast<float>(factor);
  Image out(image.width, image.height, image.channels);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const int from = degenerate.pixels[i];
    const int to = image.pixels[i];
    out.pixels[i] = truncate_to_uint8(static_cast<float>(from) + float_product(to - from, alpha));
  }
  return out;
}

Image uniform_image(int width, int height, int channels, uint8_t value) {
  Image out(width, height, channels);
  std::fill(out.pixels.begin(), out.pixels.end(), value);
  return out;
}

// ImageStat.Stat(image.convert("L")).mean, as ImageEnhance.Contrast rounds it: int(mean + 0.5).
int rounded_grey_mean(const Image& image) {
  const Image grey = to_grey(image);
  double sum = 0;  // exact: an integer far below 2^53
  for (uint8_t v : grey.pixels) sum += v;
  return static_cast<int>(sum / static_cast<double>(grey.pixels.size()) + 0.5);
}

// One row of the 3x3 kernel: (p[-step] k0 + p[0] k1) + p[step] k2 in float.
float kernel_row(const uint8_t* p, int step, float k0, float k1, float k2) {
  return (float_product(p[-step], k0) + float_product(p[0], k1)) + float_product(p[step], k2);
}

// image.filter(ImageFilter.SMOOTH): PIL's ImagingFilter3x3 with kernel (1 1 1, 1 5 1, 1 1 1) / 13 as
// floats, offset 0.5, rows summed bottom (y + 1) to top; the border keeps the image's pixels.
Image smooth(const Image& image) {
  if (image.width < 3 || image.height < 3) return image;
  const float edge = 1.0f / 13.0f;
  const float centre = 5.0f / 13.0f;
  const int c = image.channels;
  Image out = image;
  for (int y = 1; y < image.height - 1; ++y) {
    const uint8_t* above = image.row(y - 1);
    const uint8_t* middle = image.row(y);
    const uint8_t* below = image.row(y + 1);
    uint8_t* dst = out.row(y);
    for (int i = c; i < (image.width - 1) * c; ++i) {
      float sum = 0.5f;
      sum += kernel_row(below + i, c, edge, edge, edge);
      sum += kernel_row(middle + i, c, edge, centre, edge);
      sum += kernel_row(above + i, c, edge, edge, edge);
      dst[i] = truncate_to_uint8(sum);
    }
  }
  return out;
}

// ---- PIL's HSV (libImaging/Convert.c, "following colorsys.py"), with its mix of float and double

struct Hsv {
  uint8_t h, s, v;
};

Hsv rgb_to_hsv(uint8_t r, uint8_t g, uint8_t b) {
  const uint8_t maxc = std::max({r, g, b});
  const uint8_t minc = std::min({r, g, b});
  if (maxc == minc) return {0, 0, maxc};
  const float range = static_cast<float>(maxc - minc);
  const float s = range / static_cast<float>(maxc);
  const float rc = static_cast<float>(maxc - r) / range;
  const float gc = static_cast<float>(maxc - g) / range;
  const float bc = static_cast<float>(maxc - b) / range;
  float h;
  if (r == maxc)
    h = bc - gc;
  else if (g == maxc)
    h = static_cast<float>(2.0 + rc - bc);
  else
    h = static_cast<float>(4.0 + gc - rc);
  h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
  return {clamp_to_uint8(static_cast<int>(h * 255.0)), clamp_to_uint8(static_cast<int>(s * 255.0)), maxc};
}

void hsv_to_rgb(Hsv hsv, uint8_t* rgb) {
  const uint8_t v = hsv.v;
  if (hsv.s == 0) {
    rgb[0] = rgb[1] = rgb[2] = v;
    return;
  }
  const double sector_position = static_cast<float>(hsv.h) * 6.0 / 255.0;
  const int sector = static_cast<int>(std::floor(sector_position));
  const float f = static_cast<float>(sector_position - static_cast<float>(sector));
  const float fs = static_cast<float>(static_cast<float>(hsv.s) / 255.0);
  const float fv = static_cast<float>(v);
  const float fs_f = fs * f;  // a float product, as in C
  const uint8_t p = clamp_to_uint8(static_cast<int>(std::round(fv * (1.0 - fs))));
  const uint8_t q = clamp_to_uint8(static_cast<int>(std::round(fv * (1.0 - fs_f))));
  const uint8_t t = clamp_to_uint8(static_cast<int>(std::round(fv * (1.0 - separate_product(fs, 1.0 - f)))));
  const uint8_t table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  std::memcpy(rgb, table[sector % 6], 3);
}

// ---- lookup tables (ImageOps._lut: one table per channel)

using Lut = std::array<uint8_t, 256>;
using Histogram = std::array<int64_t, 256>;

Lut identity_lut() {
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(i);
  return lut;
}

Image apply_luts(const Image& image, const std::vector<Lut>& luts) {
  if (image.empty()) return image;
  Image out(image.width, image.height, image.channels);
  const size_t c = static_cast<size_t>(image.channels);
  for (size_t i = 0; i < image.pixels.size(); ++i) out.pixels[i] = luts[i % c][image.pixels[i]];
  return out;
}

Image apply_lut(const Image& image, const Lut& lut) {
  return apply_luts(image, std::vector<Lut>(static_cast<size_t>(image.channels), lut));
}

Histogram channel_histogram(const Image& image, int channel) {
  Histogram h{};
  for (size_t i = static_cast<size_t>(channel); i < image.pixels.size(); i += static_cast<size_t>(image.channels))
    ++h[image.pixels[i]];
  return h;
}

Lut autocontrast_lut(const Histogram& h) {
  int lo = 0;
  while (lo < 256 && h[lo] == 0) ++lo;
  int hi = 255;
  while (hi >= 0 && h[hi] == 0) --hi;
  if (hi <= lo) return identity_lut();
  const double scale = 255.0 / (hi - lo);
  const double offset = -lo * scale;
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = clamp_to_uint8(static_cast<int>(separate_product(i, scale) + offset));
  return lut;
}

Lut equalize_lut(const Histogram& h) {
  int present = 0, highest = 0;
  int64_t total = 0;
  for (int i = 0; i < 256; ++i) {
    if (h[i] == 0) continue;
    ++present;
    highest = i;
    total += h[i];
  }
  if (present <= 1) return identity_lut();
  const int64_t step = (total - h[highest]) / 255;
  if (step == 0) return identity_lut();
  Lut lut;
  int64_t n = step / 2;
  for (int i = 0; i < 256; ++i) {
    lut[i] = static_cast<uint8_t>(std::min<int64_t>(n / step, 255));  // PIL clips the table to 8 bits
    n += h[i];
  }
  return lut;
}

// ---- PIL's Image.transform(AFFINE, NEAREST) (libImaging/Geometry.c), fill 0

// For each output pixel (x, y): input point (a0 X + a1 Y + a2, a3 X + a4 Y + a5) at X = x + 0.5, Y = y + 0.5.
using AffineMatrix = std::array<double, 6>;

void copy_pixel(const Image& from, int x, int y, Image& to, int to_x, int to_y) {
  const size_t c = static_cast<size_t>(from.channels);
  std::memcpy(to.row(to_y) + to_x * c, from.row(y) + x * c, c);
}

// PIL's COORD test: a coordinate samples pixel int(v) when 0 <= v < size.
bool inside(double v, int size) { return v >= 0.0 && v < size; }

// ImagingScaleAffine (no cross terms): positions accumulated along each axis.
Image warp_axis_aligned(const Image& image, const AffineMatrix& a) {
  Image out(image.width, image.height, image.channels);
  std::vector<int> source_x(static_cast<size_t>(image.width), -1);
  double xo = a[2] + a[0] * 0.5;
  for (int x = 0; x < image.width; ++x, xo += a[0])
    if (inside(xo, image.width)) source_x[static_cast<size_t>(x)] = static_cast<int>(xo);
  double yo = a[5] + a[4] * 0.5;
  for (int y = 0; y < image.height; ++y, yo += a[4]) {
    if (!inside(yo, image.height)) continue;
    const int sy = static_cast<int>(yo);
    for (int x = 0; x < image.width; ++x)
      if (source_x[static_cast<size_t>(x)] >= 0) copy_pixel(image, source_x[static_cast<size_t>(x)], sy, out, x, y);
  }
  return out;
}

bool fits_fixed_point(const AffineMatrix& a, int x, int y) {
  return std::fabs(separate_product(x, a[0]) + separate_product(y, a[1]) + a[2]) < 32768.0 &&
         std::fabs(separate_product(x, a[3]) + separate_product(y, a[4]) + a[5]) < 32768.0;
}

// PIL's FIX: 16.16 fixed point, floor(v * 65536 + 0.5).
int64_t to_fixed_point(double v) { return static_cast<int64_t>(std::floor(v * 65536.0 + 0.5)); }

// floor(v / 65536), PIL's arithmetic shift.
int64_t fixed_point_floor(int64_t v) { return v >= 0 ? v / 65536 : -((65535 - v) / 65536); }

// affine_fixed: positions as exact integer sums of the rounded 16.16 coefficients.
Image warp_fixed_point(const Image& image, const AffineMatrix& a) {
  Image out(image.width, image.height, image.channels);
  const int64_t a0 = to_fixed_point(a[0]), a1 = to_fixed_point(a[1]);
  const int64_t a3 = to_fixed_point(a[3]), a4 = to_fixed_point(a[4]);
  const int64_t a2 = to_fixed_point(a[2] + a[0] * 0.5 + a[1] * 0.5);
  const int64_t a5 = to_fixed_point(a[5] + a[3] * 0.5 + a[4] * 0.5);
  for (int y = 0; y < image.height; ++y) {
    int64_t xx = a2 + y * a1, yy = a5 + y * a4;
    for (int x = 0; x < image.width; ++x, xx += a0, yy += a3) {
      const int64_t sx = fixed_point_floor(xx), sy = fixed_point_floor(yy);
      if (sx >= 0 && sx < image.width && sy >= 0 && sy < image.height)
        copy_pixel(image, static_cast<int>(sx), static_cast<int>(sy), out, x, y);
    }
  }
  return out;
}

// ImagingTransformAffine's floating-point loop, for matrices too large for 16.16.
Image warp_floating_point(const Image& image, const AffineMatrix& a) {
  Image out(image.width, image.height, image.channels);
  double xo = a[2] + a[1] * 0.5 + a[0] * 0.5;
  double yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
  for (int y = 0; y < image.height; ++y, xo += a[1], yo += a[4]) {
    double xx = xo, yy = yo;
    for (int x = 0; x < image.width; ++x, xx += a[0], yy += a[3])
      if (inside(xx, image.width) && inside(yy, image.height))
        copy_pixel(image, static_cast<int>(xx), static_cast<int>(yy), out, x, y);
  }
  return out;
}

Image warp_affine(const Image& image, const AffineMatrix& a) {
  if (a[1] == 0 && a[3] == 0) return warp_axis_aligned(image, a);
  const int w = image.width, h = image.height;
  if (fits_fixed_point(a, 0, 0) && fits_fixed_point(a, w, h) && fits_fixed_point(a, 0, h) &&
      fits_fixed_point(a, w, 0))
    return warp_fixed_point(image, a);
  return warp_floating_point(image, a);
}

// torchvision's _get_inverse_affine_matrix(center, angle, translate, scale, shear), in Python's order.
AffineMatrix inverse_affine_matrix(const std::array<double, 2>& center, const AffineParams& p) {
  const double rot = radians(p.angle);
  const double sx = radians(p.shear_x);
  const double sy = radians(p.shear_y);
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  AffineMatrix m = {d / p.scale, -b / p.scale, 0.0, -c / p.scale, a / p.scale, 0.0};
  const double u = -center[0] - p.translate_x;
  const double v = -center[1] - p.translate_y;
  m[2] += separate_product(m[0], u) + separate_product(m[1], v);
  m[5] += separate_product(m[3], u) + separate_product(m[4], v);
  m[2] += center[0];
  m[5] += center[1];
  return m;
}

// PIL's transpose(ROTATE_180).
Image half_turn(const Image& image) {
  Image out(image.width, image.height, image.channels);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) copy_pixel(image, image.width - 1 - x, image.height - 1 - y, out, x, y);
  return out;
}

// PIL's transpose(ROTATE_90) (counter-clockwise) or ROTATE_270, of a square image.
Image quarter_turn(const Image& image, bool counter_clockwise) {
  const int n = image.width;
  Image out(n, n, image.channels);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      if (counter_clockwise)
        copy_pixel(image, n - 1 - y, x, out, x, y);
      else
        copy_pixel(image, y, n - 1 - x, out, x, y);
    }
  return out;
}

// ---- TrivialAugmentWide's table

enum OpIndex {
  kIdentity,
  kShearX,
  kShearY,
  kTranslateX,
  kTranslateY,
  kRotate,
  kBrightness,
  kColor,
  kContrast,
  kSharpness,
  kPosterize,
  kSolarize,
  kAutoContrast,
  kEqualize,
};

const TrivialAugmentOp kTrivialAugmentTable[kTrivialAugmentOps] = {
    {"Identity", false, false},   {"ShearX", true, true},     {"ShearY", true, true},
    {"TranslateX", true, true},   {"TranslateY", true, true}, {"Rotate", true, true},
    {"Brightness", true, true},   {"Color", true, true},      {"Contrast", true, true},
    {"Sharpness", true, true},    {"Posterize", true, false}, {"Solarize", true, false},
    {"AutoContrast", false, false}, {"Equalize", false, false},
};

// torch.linspace(0.0, 0.99, 31) and torch.linspace(0.0, 32.0, 31) as float32, as torch 1.13's CPU kernel
// produces them (its vectorised path rounds a few bins one ulp away from start + bin * step).
constexpr float kLinspace099[kTrivialAugmentBins] = {
    0.0f,   0.033f, 0.066f, 0.099f, 0.132f, 0.16499999f, 0.198f, 0.231f, 0.264f, 0.297f, 0.32999998f,
    0.363f, 0.396f, 0.429f, 0.462f, 0.495f, 0.528f, 0.561f, 0.594f, 0.62700003f, 0.66f, 0.693f,
    0.726f, 0.759f, 0.792f, 0.825f, 0.85800004f, 0.89100003f, 0.924f, 0.957f, 0.99f};
constexpr float kLinspace32[kTrivialAugmentBins] = {
    0.0f,       1.0666667f, 2.1333334f, 3.2000003f, 4.266667f,  5.3333335f, 6.4000006f, 7.466667f,
    8.533334f,  9.6f,       10.666667f, 11.733334f, 12.800001f, 13.866667f, 14.933334f, 16.0f,
    17.066666f, 18.133333f, 19.199999f, 20.266666f, 21.333332f, 22.4f,      23.466667f, 24.533333f,
    25.6f,      26.666666f, 27.733334f, 28.8f,      29.866667f, 30.933332f, 32.0f};

// The unsigned magnitude of a bin. linspace(0, 135, 31) and linspace(255, 0, 31) are exact in float32;
// Posterize is 8 - round(bin / 5) (never a tie).
double bin_magnitude(int op, int bin) {
  switch (op) {
    case kTranslateX:
    case kTranslateY:
      return kLinspace32[bin];
    case kRotate:
      return 4.5 * bin;
    case kPosterize:
      return 8 - (bin + 2) / 5;
    case kSolarize:
      return 255.0 - 8.5 * bin;
    default:
      return kLinspace099[bin];
  }
}

void check_op_index(int op_index) {
  DISMAX_CHECK(op_index >= 0 && op_index < kTrivialAugmentOps, "trivial_augment: op index ", op_index,
               " is not in [0, ", kTrivialAugmentOps, ")");
}

}  // namespace

// ---- colour

Image adjust_brightness(const Image& image, double factor) {
  check_factor("adjust_brightness", "brightness_factor", factor);
  if (image.empty()) return image;
  return blend(Image(image.width, image.height, image.channels), image, factor);
}

Image adjust_contrast(const Image& image, double factor) {
  check_factor("adjust_contrast", "contrast_factor", factor);
  if (image.empty()) return image;
  const auto mean = static_cast<uint8_t>(rounded_grey_mean(image));
  return blend(uniform_image(image.width, image.height, image.channels, mean), image, factor);
}

Image adjust_saturation(const Image& image, double factor) {
  check_factor("adjust_saturation", "saturation_factor", factor);
  if (image.empty() || image.channels == 1) return image;
  return blend(to_rgb(to_grey(image)), image, factor);
}

Image adjust_sharpness(const Image& image, double factor) {
  check_factor("adjust_sharpness", "sharpness_factor", factor);
  if (image.empty()) return image;
  return blend(smooth(image), image, factor);
}

Image adjust_hue(const Image& image, double hue_factor) {
  DISMAX_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue: hue_factor (", hue_factor,
               ") is not in [-0.5, 0.5]");
  if (image.empty() || image.channels == 1) return image;
  // numpy's uint8(hue_factor * 255): truncated toward zero, then modulo 256.
  const auto shift = static_cast<uint8_t>(static_cast<int>(hue_factor * 255.0) & 255);
  Image out(image.width, image.height, 3);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    Hsv hsv = rgb_to_hsv(image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]);
    hsv.h = static_cast<uint8_t>(hsv.h + shift);
    hsv_to_rgb(hsv, &out.pixels[i]);
  }
  return out;
}

// ---- tone

Image posterize(const Image& image, int bits) {
  DISMAX_CHECK(bits >= 0 && bits <= 8, "posterize: bits must be in [0, 8], got ", bits);
  const int mask = ~((1 << (8 - bits)) - 1);
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(i & mask);
  return apply_lut(image, lut);
}

Image solarize(const Image& image, double threshold) {
  DISMAX_CHECK(!std::isnan(threshold), "solarize: threshold is NaN");
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(i < threshold ? i : 255 - i);
  return apply_lut(image, lut);
}

Image autocontrast(const Image& image) {
  std::vector<Lut> luts;
  for (int c = 0; c < image.channels; ++c) luts.push_back(autocontrast_lut(channel_histogram(image, c)));
  return apply_luts(image, luts);
}

Image equalize(const Image& image) {
  std::vector<Lut> luts;
  for (int c = 0; c < image.channels; ++c) luts.push_back(equalize_lut(channel_histogram(image, c)));
  return apply_luts(image, luts);
}

// ---- geometry

Image affine(const Image& image, const AffineParams& p) {
  DISMAX_CHECK(std::isfinite(p.angle) && std::isfinite(p.translate_x) && std::isfinite(p.translate_y) &&
                   std::isfinite(p.shear_x) && std::isfinite(p.shear_y) &&
                   (!p.center || (std::isfinite((*p.center)[0]) && std::isfinite((*p.center)[1]))),
               "affine: angle, translation, shear and center must be finite");
  DISMAX_CHECK(std::isfinite(p.scale) && p.scale > 0, "affine: scale must be positive, got ", p.scale);
  if (image.empty()) return image;
  const std::array<double, 2> center = p.center ? *p.center
                                                : std::array<double, 2>{image.width * 0.5, image.height * 0.5};
  return warp_affine(image, inverse_affine_matrix(center, p));
}

Image rotate(const Image& image, double angle) {
  DISMAX_CHECK(std::isfinite(angle), "rotate: angle must be finite, got ", angle);
  if (image.empty()) return image;
  const double turn = python_mod(angle, 360.0);
  if (turn == 0) return image;
  if (turn == 180) return half_turn(image);
  if ((turn == 90 || turn == 270) && image.width == image.height) return quarter_turn(image, turn == 90);
  const double rad = -radians(turn);
  const double cos_r = python_round(std::cos(rad), 15);
  AffineMatrix m = {cos_r, python_round(std::sin(rad), 15), 0.0, python_round(-std::sin(rad), 15), cos_r, 0.0};
  const double cx = image.width / 2.0, cy = image.height / 2.0;
  m[2] = separate_product(m[0], -cx) + separate_product(m[1], -cy) + 0.0;
  m[5] = separate_product(m[3], -cx) + separate_product(m[4], -cy) + 0.0;
  m[2] += cx;
  m[5] += cy;
  return warp_affine(image, m);
}

Image shear_x(const Image& image, double degrees) {
  AffineParams p;
  p.shear_x = degrees;
  p.center = std::array<double, 2>{0.0, 0.0};
  return affine(image, p);
}

Image shear_y(const Image& image, double degrees) {
  AffineParams p;
  p.shear_y = degrees;
  p.center = std::array<double, 2>{0.0, 0.0};
  return affine(image, p);
}

Image translate_x(const Image& image, int pixels) {
  AffineParams p;
  p.translate_x = pixels;
  return affine(image, p);
}

Image translate_y(const Image& image, int pixels) {
  AffineParams p;
  p.translate_y = pixels;
  return affine(image, p);
}

// ---- TrivialAugmentWide

const TrivialAugmentOp& trivial_augment_op(int op_index) {
  check_op_index(op_index);
  return kTrivialAugmentTable[op_index];
}

const char* trivial_augment_op_name(int op_index) { return trivial_augment_op(op_index).name; }

double trivial_augment_magnitude(int op_index, int magnitude_bin, bool negate) {
  const TrivialAugmentOp& op = trivial_augment_op(op_index);
  if (!op.has_magnitudes) return 0.0;
  DISMAX_CHECK(magnitude_bin >= 0 && magnitude_bin < kTrivialAugmentBins, "trivial_augment: ", op.name,
               " magnitude bin ", magnitude_bin, " is not in [0, ", kTrivialAugmentBins, ")");
  const double m = bin_magnitude(op_index, magnitude_bin);
  return op.is_signed && negate ? -m : m;
}

Image trivial_augment_apply(const Image& image, int op_index, int magnitude_bin, bool negate) {
  const double m = trivial_augment_magnitude(op_index, magnitude_bin, negate);
  switch (op_index) {
    case kShearX:
      return shear_x(image, degrees(std::atan(m)));
    case kShearY:
      return shear_y(image, degrees(std::atan(m)));
    case kTranslateX:
      return translate_x(image, static_cast<int>(m));
    case kTranslateY:
      return translate_y(image, static_cast<int>(m));
    case kRotate:
      return rotate(image, m);
    case kBrightness:
      return adjust_brightness(image, 1.0 + m);
    case kColor:
      return adjust_saturation(image, 1.0 + m);
    case kContrast:
      return adjust_contrast(image, 1.0 + m);
    case kSharpness:
      return adjust_sharpness(image, 1.0 + m);
    case kPosterize:
      return posterize(image, static_cast<int>(m));
    case kSolarize:
      return solarize(image, m);
    case kAutoContrast:
      return autocontrast(image);
    case kEqualize:
      return equalize(image);
    default:  // kIdentity
      return image;
  }
}

}  // namespace dismax
