#include "datasets/transforms.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace dismax {

namespace {

// Python's round(): half to even.
int round_half_even(double v) {
  const double r = std::round(v);
  if (std::fabs(v - std::trunc(v)) == 0.5) return static_cast<int>(2.0 * std::round(v / 2.0));
  return static_cast<int>(r);
}

std::string floats(const std::vector<float>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ")";
  return os.str();
}

}  // namespace

// ---- Transform

Transform& Transform::then(std::string name, Step step) {
  steps_.push_back({std::move(name), std::move(step)});
  return *this;
}

Transform& Transform::normalize(const Normalization& n) {
  DISMAX_CHECK(!n.mean.empty() && n.mean.size() == n.std.size(), "normalize: ", n.mean.size(), " means and ",
               n.std.size(), " standard deviations");
  norm_ = n;
  lut_.assign(n.mean.size(), {});
  for (size_t c = 0; c < n.mean.size(); ++c) {
    DISMAX_CHECK(n.std[c] > 0, "normalize: standard deviation ", n.std[c], " of channel ", c,
                 " is not positive");
    for (int v = 0; v < 256; ++v) lut_[c][v] = (static_cast<float>(v) / 255.0f - n.mean[c]) / n.std[c];
  }
  return *this;
}

Image Transform::augment(const Image& image, Generator& gen) const {
  if (steps_.empty()) return image;
  Image out = steps_[0].step(image, gen);
  for (size_t i = 1; i < steps_.size(); ++i) out = steps_[i].step(out, gen);
  return out;
}

Transform& Transform::then_tensor(std::string name, TensorStep step) {
  tensor_steps_.push_back({std::move(name), std::move(step)});
  return *this;
}

void Transform::to_chw(const Image& image, float* out, Generator& gen) const {
  to_chw(image, out);
  for (const auto& t : tensor_steps_) t.step(out, image.channels, image.height, image.width, gen);
}

void Transform::to_chw(const Image& image, float* out) const {
  const int c = image.channels;
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  if (lut_.empty()) {
    for (size_t i = 0; i < plane; ++i)
      for (int k = 0; k < c; ++k) out[k * plane + i] = static_cast<float>(image.pixels[i * c + k]) / 255.0f;
    return;
  }
  DISMAX_CHECK(static_cast<size_t>(c) == lut_.size(), "transform: a ", c, "-channel image meets a ",
               lut_.size(), "-channel normalisation; add rgb() or grey() to the transform");
  for (int k = 0; k < c; ++k) {
    const float* lut = lut_[k].data();
    float* dst = out + k * plane;
    const uint8_t* src = image.pixels.data() + k;
    for (size_t i = 0; i < plane; ++i) dst[i] = lut[src[i * c]];
  }
}

std::string Transform::describe() const {
  std::string s;
  for (const auto& st : steps_) s += st.name + " -> ";
  s += lut_.empty() ? "to_tensor" : "normalize(mean " + floats(norm_.mean) + ", std " + floats(norm_.std) + ")";
  for (const auto& t : tensor_steps_) s += " -> " + t.name;
  return s;
}

// ---- steps

namespace {
void zero_box(float* chw, int channels, int height, int width, int top, int left, int h, int w) {
  for (int c = 0; c < channels; ++c)
    for (int y = top; y < top + h; ++y) std::fill_n(chw + (static_cast<size_t>(c) * height + y) * width + left, w, 0.0f);
}
}  // namespace

Transform::TensorStep random_erasing(double p, double scale_min, double scale_max, double ratio_min, double ratio_max) {
  DISMAX_CHECK(p >= 0 && p <= 1 && 0 < scale_min && scale_min <= scale_max && scale_max <= 1 && 0 < ratio_min &&
                   ratio_min <= ratio_max,
               "random_erasing: invalid probability ", p, ", scale or ratio");
  return [=](float* chw, int channels, int height, int width, Generator& gen) {
    if (gen.next_double() >= p) return;
    const double area = static_cast<double>(height) * width;
    const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase_area = area * (scale_min + (scale_max - scale_min) * gen.next_double());
      const double aspect = std::exp(log_lo + (log_hi - log_lo) * gen.next_double());
      const int h = round_half_even(std::sqrt(erase_area * aspect));
      const int w = round_half_even(std::sqrt(erase_area / aspect));
      if (!(h < height && w < width)) continue;
      const int top = static_cast<int>(gen.next_below(static_cast<uint64_t>(height - h + 1)));
      const int left = static_cast<int>(gen.next_below(static_cast<uint64_t>(width - w + 1)));
      zero_box(chw, channels, height, width, top, left, h, w);
      return;
    }
  };
}

Transform::TensorStep cutout(int size) {
  DISMAX_CHECK(size > 0, "cutout: the square's size must be > 0, got ", size);
  return [size](float* chw, int channels, int height, int width, Generator& gen) {
    const int cy = static_cast<int>(gen.next_below(static_cast<uint64_t>(height)));
    const int cx = static_cast<int>(gen.next_below(static_cast<uint64_t>(width)));
    const int top = std::clamp(cy - size / 2, 0, height), bottom = std::clamp(cy + size / 2, 0, height);
    const int left = std::clamp(cx - size / 2, 0, width), right = std::clamp(cx + size / 2, 0, width);
    zero_box(chw, channels, height, width, top, left, bottom - top, right - left);
  };
}

Transform::Step random_crop(int size, int padding) {
  DISMAX_CHECK(size > 0 && padding >= 0, "random_crop: invalid size ", size, " or padding ", padding);
  return [size, padding](const Image& image, Generator& gen) {
    const int h = image.height + 2 * padding, w = image.width + 2 * padding;
    DISMAX_CHECK(h >= size && w >= size, "random_crop: a ", size, "x", size, " crop of a ", image.width, "x",
                 image.height, " image padded by ", padding);
    const int top = static_cast<int>(gen.next_below(static_cast<uint64_t>(h - size + 1)));
    const int left = static_cast<int>(gen.next_below(static_cast<uint64_t>(w - size + 1)));
    // Cropping the padded image equals cropping the original with zeros outside it.
    return crop(image, left - padding, top - padding, size, size);
  };
}

Transform::Step horizontal_flip(double p) {
  return [p](const Image& image, Generator& gen) { return gen.next_double() < p ? hflip(image) : image; };
}

std::array<int, 4> random_resized_crop_box(int width, int height, Generator& gen, double scale_min,
                                           double scale_max, double ratio_min, double ratio_max) {
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * (scale_min + (scale_max - scale_min) * gen.next_double());
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * gen.next_double());
    const int w = round_half_even(std::sqrt(target_area * aspect));
    const int h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int top = static_cast<int>(gen.next_below(static_cast<uint64_t>(height - h + 1)));
      const int left = static_cast<int>(gen.next_below(static_cast<uint64_t>(width - w + 1)));
      return {left, top, w, h};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min) {
    h = round_half_even(w / ratio_min);
  } else if (in_ratio > ratio_max) {
    w = round_half_even(h * ratio_max);
  }
  return {(width - w) / 2, (height - h) / 2, w, h};
}

Transform::Step random_resized_crop(int size, double scale_min, double scale_max, double ratio_min,
                                    double ratio_max) {
  DISMAX_CHECK(size > 0 && 0 < scale_min && scale_min <= scale_max && 0 < ratio_min && ratio_min <= ratio_max,
               "random_resized_crop: invalid size, scale or ratio");
  return [=](const Image& image, Generator& gen) {
    const auto b =
        random_resized_crop_box(image.width, image.height, gen, scale_min, scale_max, ratio_min, ratio_max);
    return resized_crop(image, b[0], b[1], b[2], b[3], size, size);
  };
}

Transform::Step resize_shorter(int size) {
  DISMAX_CHECK(size > 0, "resize_shorter: invalid size ", size);
  return [size](const Image& image, Generator&) {
    const int w = image.width, h = image.height;
    const int shorter = std::min(w, h), longer = std::max(w, h);
    const int new_long = static_cast<int>(static_cast<double>(int64_t{size} * longer) / shorter);
    return w <= h ? resize_bilinear(image, size, new_long) : resize_bilinear(image, new_long, size);
  };
}

Transform::Step resize(int width, int height) {
  DISMAX_CHECK(width > 0 && height > 0, "resize: invalid size ", width, "x", height);
  return [width, height](const Image& image, Generator&) {
    if (image.width == width && image.height == height) return image;
    return resize_bilinear(image, width, height);
  };
}

Transform::Step center_crop(int size) {
  DISMAX_CHECK(size > 0, "center_crop: invalid size ", size);
  return [size](const Image& image, Generator&) {
    auto offset = [size](int extent) {
      return extent >= size ? round_half_even((extent - size) / 2.0) : -((size - extent) / 2);
    };
    return crop(image, offset(image.width), offset(image.height), size, size);
  };
}

Transform::Step rgb() {
  return [](const Image& image, Generator&) { return to_rgb(image); };
}

Transform::Step grey() {
  return [](const Image& image, Generator&) { return to_grey(image); };
}

}  // namespace dismax
