// datasets/image_ops against torchvision 0.14 on PIL (tests/reference/make_image_op_fixtures.py): every op,
// every case, every image, pixel for pixel; and TrivialAugmentWide's ops through torchvision's own _apply_op.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/image_ops.h"
#include "engine/io/safetensors.h"

using namespace dismax;

namespace {

// DISMAX_IMAGE_OPS_FIXTURE points it at the script's --stress output instead.
const TensorFile& fixtures() {
  const char* stress = std::getenv("DISMAX_IMAGE_OPS_FIXTURE");
  static const TensorFile f =
      load_safetensors(stress ? stress : std::string(DISMAX_FIXTURE_DIR) + "/image_ops.safetensors");
  return f;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

Image image_of(const Tensor& t) {
  const auto& shape = t.sizes();
  REQUIRE(shape.size() == 3);
  Image image(static_cast<int>(shape[1]), static_cast<int>(shape[0]), static_cast<int>(shape[2]));
  image.pixels = t.to_vector<uint8_t>();
  return image;
}

// Empty when equal; otherwise how many values differ, the largest difference and the first place.
std::string difference(const Image& got, const Image& want) {
  if (got.width != want.width || got.height != want.height || got.channels != want.channels) {
    std::ostringstream out;
    out << "size " << got.width << "x" << got.height << "x" << got.channels << ", want " << want.width << "x"
        << want.height << "x" << want.channels;
    return out.str();
  }
  int differing = 0, largest = 0;
  size_t first = 0;
  for (size_t i = 0; i < want.pixels.size(); ++i) {
    const int d = std::abs(int(got.pixels[i]) - int(want.pixels[i]));
    if (d == 0) continue;
    if (differing++ == 0) first = i;
    largest = std::max(largest, d);
  }
  if (differing == 0) return {};
  const size_t pixel = first / want.channels;
  std::ostringstream out;
  out << differing << " of " << want.pixels.size() << " values differ (largest by " << largest << "), first at x "
      << pixel % want.width << " y " << pixel / want.width << " channel " << first % want.channels << ": "
      << int(got.pixels[first]) << ", want " << int(want.pixels[first]);
  return out.str();
}

Image run_op(const std::string& op, const std::vector<double>& p, const Image& in) {
  if (op == "adjust_brightness") return adjust_brightness(in, p.at(0));
  if (op == "adjust_contrast") return adjust_contrast(in, p.at(0));
  if (op == "adjust_saturation") return adjust_saturation(in, p.at(0));
  if (op == "adjust_sharpness") return adjust_sharpness(in, p.at(0));
  if (op == "adjust_hue") return adjust_hue(in, p.at(0));
  if (op == "posterize") return posterize(in, static_cast<int>(p.at(0)));
  if (op == "solarize") return solarize(in, p.at(0));
  if (op == "autocontrast") return autocontrast(in);
  if (op == "equalize") return equalize(in);
  if (op == "rotate") return rotate(in, p.at(0));
  if (op == "affine") {
    AffineParams a;
    a.angle = p.at(0);
    a.translate_x = p.at(1);
    a.translate_y = p.at(2);
    a.scale = p.at(3);
    a.shear_x = p.at(4);
    a.shear_y = p.at(5);
    if (p.at(6) != 0) a.center = std::array<double, 2>{p.at(7), p.at(8)};
    return affine(in, a);
  }
  FAIL("the fixture has an op the test does not know: " << op);
  return {};
}

int op_index(const std::string& name) {
  for (int i = 0; i < kTrivialAugmentOps; ++i)
    if (name == trivial_augment_op_name(i)) return i;
  FAIL("unknown TrivialAugmentWide op " << name);
  return -1;
}

}  // namespace

TEST_CASE("image ops: every op, case and image exactly as torchvision 0.14 on PIL") {
  std::map<std::string, int> compared;  // op -> results compared
  for (const auto& [name, tensor] : fixtures().tensors) {
    const auto parts = split(name, '/');
    if (parts[0] == "input" || parts[0] == "trivial_augment" || parts.back() == "params") continue;
    REQUIRE(parts.size() == 3);
    const std::string& op = parts[0];
    const auto params = fixtures().at(op + "/" + parts[1] + "/params").to_vector<double>();
    const Image in = image_of(fixtures().at("input/" + parts[2]));
    const std::string diff = difference(run_op(op, params, in), image_of(tensor));
    CHECK_MESSAGE(diff.empty(), name << ": " << diff);
    ++compared[op];
  }
  // Every op of the header is in the fixture, on at least the three common images.
  for (const char* op : {"adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_sharpness",
                         "adjust_hue", "posterize", "solarize", "autocontrast", "equalize", "affine", "rotate"})
    CHECK_MESSAGE(compared[op] >= 3, op);
}

TEST_CASE("image ops: TrivialAugmentWide's magnitude table and every op through torchvision's _apply_op") {
  const auto names = split(fixtures().metadata.at("trivial_augment_ops"), ',');
  REQUIRE(names.size() == kTrivialAugmentOps);
  for (int i = 0; i < kTrivialAugmentOps; ++i) {
    CHECK(names[i] == trivial_augment_op_name(i));
    const std::string key = "trivial_augment/magnitudes/" + names[i];
    CHECK(fixtures().contains(key) == trivial_augment_op(i).has_magnitudes);
    if (!fixtures().contains(key)) continue;
    const auto table = fixtures().at(key).to_vector<float>();
    REQUIRE(table.size() == kTrivialAugmentBins);
    for (int b = 0; b < kTrivialAugmentBins; ++b) {
      CHECK_MESSAGE(trivial_augment_magnitude(i, b, false) == static_cast<double>(table[b]), names[i] << " bin " << b);
      if (trivial_augment_op(i).is_signed)
        CHECK(trivial_augment_magnitude(i, b, true) == -static_cast<double>(table[b]));
    }
  }
  int compared = 0;
  for (const auto& [name, tensor] : fixtures().tensors) {
    const auto parts = split(name, '/');
    if (parts[0] != "trivial_augment" || parts[1] == "magnitudes") continue;
    REQUIRE(parts.size() == 5);
    const int op = op_index(parts[1]);
    const Image in = image_of(fixtures().at("input/" + parts[4]));
    const Image got = trivial_augment_apply(in, op, std::stoi(parts[2]), parts[3] == "neg");
    const std::string diff = difference(got, image_of(tensor));
    CHECK_MESSAGE(diff.empty(), name << ": " << diff);
    ++compared;
  }
  CHECK(compared > 100);
}

TEST_CASE("image ops: parameters outside their domain are refused, empty images come back empty") {
  Image rgb(4, 3, 3);
  CHECK_THROWS(adjust_brightness(rgb, -0.1));
  CHECK_THROWS(adjust_contrast(rgb, std::nan("")));
  CHECK_THROWS(adjust_hue(rgb, 0.6));
  CHECK_THROWS(posterize(rgb, 9));
  CHECK_THROWS(posterize(rgb, -1));
  CHECK_THROWS(solarize(rgb, std::nan("")));
  AffineParams zero_scale;
  zero_scale.scale = 0;
  CHECK_THROWS(affine(rgb, zero_scale));
  CHECK_THROWS(rotate(rgb, std::numeric_limits<double>::infinity()));
  CHECK_THROWS(trivial_augment_apply(rgb, kTrivialAugmentOps, 0, false));
  CHECK_THROWS(trivial_augment_apply(rgb, 1, kTrivialAugmentBins, false));
  CHECK(adjust_sharpness(Image(), 2.0).empty());
  CHECK(rotate(Image(), 30.0).empty());
  CHECK(equalize(Image()).empty());
  CHECK(autocontrast(Image()).empty());
  CHECK(posterize(Image(), 3).empty());
  for (int op = 0; op < kTrivialAugmentOps; ++op) CHECK(trivial_augment_apply(Image(), op, 5, true).empty());
}
