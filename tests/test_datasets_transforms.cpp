// Transforms: crop / flip / normalise values on tiny images, RandomResizedCrop against torchvision's
// statistics and its fallback, and PIL equivalence of resizing, centre cropping, grey conversion and
// decoding (fixtures from tests/reference/make_dataset_fixtures.py).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "datasets/registry.h"
#include "datasets/image.h"
#include "datasets/transforms.h"
#include "engine/error.h"

using namespace dismax;

namespace {

// The fixture script's source image: (x*7 + y*13 + c*50 + ((x*y) % 11) * 9) % 256.
Image source(int width = 40, int height = 30) {
  Image img(width, height, 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        img.at(x, y, c) = static_cast<uint8_t>((x * 7 + y * 13 + c * 50 + ((x * y) % 11) * 9) % 256);
  return img;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Reference {
  nlohmann::json json;
  std::map<std::string, Image> images;
};

const Reference& reference() {
  static const Reference ref = [] {
    Reference r;
    r.json = nlohmann::json::parse(read_bytes(DISMAX_FIXTURE_DIR "/pil_reference.json"));
    const std::string blob = read_bytes(DISMAX_FIXTURE_DIR "/pil_reference.bin");
    for (const auto& e : r.json["images"]) {
      Image img(e["width"].get<int>(), e["height"].get<int>(), e["channels"].get<int>());
      const size_t offset = e["offset"].get<size_t>();
      REQUIRE(offset + img.pixels.size() <= blob.size());
      std::copy(blob.begin() + offset, blob.begin() + offset + img.pixels.size(), img.pixels.begin());
      r.images[e["name"].get<std::string>()] = img;
    }
    return r;
  }();
  return ref;
}

// Largest absolute difference between two images of the same size (256 if the sizes differ).
int max_diff(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height || a.channels != b.channels) return 256;
  int d = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) d = std::max(d, std::abs(int{a.pixels[i]} - int{b.pixels[i]}));
  return d;
}

Image run_step(const Transform::Step& step, const Image& img) {
  Generator gen(0);
  return step(img, gen);
}

}  // namespace

TEST_CASE("datasets: resizing, centre crop and grey conversion match PIL / torchvision") {
  const Reference& ref = reference();
  const Image src = source();
  const std::vector<std::pair<std::string, Image>> ours = {
      {"down_17x13", resize_bilinear(src, 17, 13)},
      {"up_43x33", resize_bilinear(src, 43, 33)},
      {"down_5x4", resize_bilinear(src, 5, 4)},
      {"vertical_40x11", resize_bilinear(src, 40, 11)},
      {"horizontal_9x30", resize_bilinear(src, 9, 30)},
      {"resized_crop", resized_crop(src, 5, 3, 27, 22, 13, 31)},
      {"grey", to_grey(src)},
      {"grey_down_17x13", resize_bilinear(to_grey(src), 17, 13)},
      {"resize20_center15", run_step(center_crop(15), run_step(resize_shorter(20), src))},
      {"center_crop_20_of_17x13", run_step(center_crop(20), resize_bilinear(src, 17, 13))},
  };
  for (const auto& [name_, img] : ours) {
    const std::string& name = name_;  // a plain variable: clang's C++17 lambdas cannot capture bindings
    INFO(name);
    REQUIRE(ref.images.count(name) == 1);
    const int d = max_diff(img, ref.images.at(name));
    CHECK(d <= 1);
    if (d != 0) MESSAGE(name << ": largest difference from PIL " << d);
  }
}

TEST_CASE("datasets: decoding matches PIL's convert(\"RGB\") (JPEG, CMYK and grey JPEG, grey PNG)") {
  if (!image_decoding_available()) {
    MESSAGE("skipped: dismax was built without OpenCV");
    return;
  }
  const Reference& ref = reference();
  // Exact with the libjpeg path; OpenCV's own CMYK conversion (used when libjpeg's headers are absent at
  // build time) rounds differently by one level.
  for (const auto& [file, name, tolerance] :
       std::vector<std::tuple<std::string, std::string, int>>{{"pil_decode.jpg", "decode_jpg", 1},
                                                              {"pil_grey.png", "grey_png", 0},
                                                              {"pil_cmyk.jpg", "cmyk_jpg", 1},
                                                              {"pil_grey.jpg", "grey_jpg", 0}}) {
    const std::string& file_name = file;  // a plain variable: clang's C++17 lambdas cannot capture bindings
    INFO(file_name);
    const Image img = read_image(DISMAX_FIXTURE_DIR "/" + file);
    const int d = max_diff(img, ref.images.at(name));
    MESSAGE(file << ": largest difference from PIL " << d);
    CHECK(d <= tolerance);
  }
}

TEST_CASE("datasets: random crop with zero padding, flip and normalisation values") {
  Image img(32, 32, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(1 + i % 250);
  const Transform::Step step = random_crop(32, 4);
  std::vector<int> tops(9, 0), lefts(9, 0);
  for (uint64_t seed = 0; seed < 1800; ++seed) {
    Generator gen(seed), replay(seed);
    const Image out = step(img, gen);
    const int top = static_cast<int>(replay.next_below(9)), left = static_cast<int>(replay.next_below(9));
    ++tops[top];
    ++lefts[left];
    REQUIRE(out.width == 32);
    // Offsets (left, top) into the padded image: pixel (x, y) of the output is (x + left - 4, y + top - 4).
    CHECK(out.pixels == crop(pad(img, 4), left, top, 32, 32).pixels);
    if (top == 0 && left == 0) {
      CHECK(out.at(3, 3, 0) == 0);  // padding is black
      CHECK(out.at(4, 4, 1) == img.at(0, 0, 1));
    }
  }
  for (int k = 0; k < 9; ++k) {  // uniform over [0, 8]: 200 expected each
    CHECK(tops[k] > 140);
    CHECK(tops[k] < 260);
    CHECK(lefts[k] > 140);
    CHECK(lefts[k] < 260);
  }

  const Image flipped = hflip(img);
  CHECK(flipped.at(0, 5, 2) == img.at(31, 5, 2));
  CHECK(flipped.at(31, 0, 0) == img.at(0, 0, 0));
  int n_flipped = 0;
  const Transform::Step flip = horizontal_flip(0.5);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    Generator gen(seed);
    n_flipped += flip(img, gen).pixels == flipped.pixels;
  }
  CHECK(n_flipped > 900);
  CHECK(n_flipped < 1100);

  // (x/255 - mean) / std per channel, CHW; black padding becomes -mean/std.
  Image tiny(2, 1, 3);
  tiny.pixels = {0, 128, 255, 10, 20, 30};
  Transform t;
  t.normalize(normalization_for("cifar10"));
  std::vector<float> chw(6);
  t.to_chw(tiny, chw.data());
  const float mean[3] = {0.491f, 0.482f, 0.446f}, stdv[3] = {0.247f, 0.243f, 0.261f};
  for (int c = 0; c < 3; ++c)
    for (int x = 0; x < 2; ++x) {
      const float expected = (static_cast<float>(tiny.at(x, 0, c)) / 255.0f - mean[c]) / stdv[c];
      CHECK(chw[c * 2 + x] == expected);
    }
  CHECK(chw[0] == doctest::Approx(-0.491 / 0.247).epsilon(1e-6));
  Transform plain;
  plain.to_chw(tiny, chw.data());
  CHECK(chw[1] == doctest::Approx(10 / 255.0).epsilon(1e-6));
  CHECK(chw[4] == doctest::Approx(255 / 255.0).epsilon(1e-6));

  // Channel mismatch is an error that says what to add.
  Image grey(2, 2, 1);
  CHECK_THROWS_WITH_AS(t.to_chw(grey, chw.data()), doctest::Contains("rgb()"), Error);

  // The CIFAR training recipe: 3x32x32 out, describe() lists the steps.
  const Transform train = train_transform("cifar10");
  CHECK(train.describe().find("random_crop(32, padding 4) -> hflip(0.5) -> normalize") == 0);
  Generator gen(3);
  const Image aug = train.augment(img, gen);
  CHECK(aug.width == 32);
  CHECK(aug.height == 32);
}

TEST_CASE("datasets: RandomResizedCrop statistics match torchvision's get_params, and its fallback") {
  for (const auto& s : reference().json["random_resized_crop"]) {
    const int width = s["width"], height = s["height"], draws = s["draws"];
    INFO(width << "x" << height);
    double area = 0, area2 = 0, logr = 0, logr2 = 0, mw = 0, mh = 0;
    int whole = 0;
    for (int k = 0; k < draws; ++k) {
      Generator gen(static_cast<uint64_t>(k) * 7919 + 1);
      const auto b = random_resized_crop_box(width, height, gen);
      REQUIRE(b[0] >= 0);
      REQUIRE(b[1] >= 0);
      REQUIRE(b[0] + b[2] <= width);
      REQUIRE(b[1] + b[3] <= height);
      const double a = static_cast<double>(b[2]) * b[3] / (static_cast<double>(width) * height);
      const double r = std::log(static_cast<double>(b[2]) / b[3]);
      area += a, area2 += a * a, logr += r, logr2 += r * r, mw += b[2], mh += b[3];
      whole += b[2] == width && b[3] == height;
    }
    area /= draws, logr /= draws, mw /= draws, mh /= draws;
    const double std_area = std::sqrt(area2 / draws - area * area),
                 std_logr = std::sqrt(logr2 / draws - logr * logr);
    MESSAGE(width << "x" << height << ": mean area " << area << " (torchvision "
                  << s["mean_area"].get<double>() << "), mean log ratio " << logr << " ("
                  << s["mean_log_ratio"].get<double>() << ")");
    CHECK(std::abs(area - s["mean_area"].get<double>()) < 0.01);
    CHECK(std::abs(std_area - s["std_area"].get<double>()) < 0.01);
    CHECK(std::abs(logr - s["mean_log_ratio"].get<double>()) < 0.008);
    CHECK(std::abs(std_logr - s["std_log_ratio"].get<double>()) < 0.008);
    CHECK(std::abs(mw - s["mean_w"].get<double>()) < 0.02 * s["mean_w"].get<double>());
    CHECK(std::abs(mh - s["mean_h"].get<double>()) < 0.02 * s["mean_h"].get<double>());
    CHECK(std::abs(static_cast<double>(whole) / draws - s["whole_image"].get<double>()) < 0.003);
  }

  // No draw fits a 1000x10 strip: the fallback is the centred crop with the largest allowed aspect
  // (h = 10, w = round(10 * 4/3) = 13), and for 10x1000 the smallest (w = 10, h = round(10 / (3/4)) = 13).
  Generator gen(5);
  CHECK(random_resized_crop_box(1000, 10, gen) == std::array<int, 4>{493, 0, 13, 10});
  CHECK(random_resized_crop_box(10, 1000, gen) == std::array<int, 4>{0, 493, 10, 13});

  // The step resizes the chosen box like PIL, and the ImageNet recipe yields 224x224.
  const Image src = source(50, 37);
  Generator g1(11), g2(11);
  const auto b = random_resized_crop_box(50, 37, g1);
  CHECK(random_resized_crop(24)(src, g2).pixels == resized_crop(src, b[0], b[1], b[2], b[3], 24, 24).pixels);
  Generator g3(1);
  const Image big = train_transform("imagenet").augment(source(500, 375), g3);
  CHECK(big.width == 224);
  CHECK(big.height == 224);
}

TEST_CASE("datasets: resize_shorter, center_crop (Python rounding) and the inference recipes") {
  CHECK(run_step(resize_shorter(256), Image(500, 375, 3)).width == 341);  // int(256 * 500 / 375)
  CHECK(run_step(resize_shorter(256), Image(500, 375, 3)).height == 256);
  CHECK(run_step(resize_shorter(256), Image(300, 600, 1)).height == 512);
  Image ramp(22, 20, 1);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 22; ++x) ramp.at(x, y, 0) = static_cast<uint8_t>(x + 100 * (y % 2));
  // (22 - 15) / 2 = 3.5 rounds to 4 and (20 - 15) / 2 = 2.5 to 2, like Python's round().
  const Image c = run_step(center_crop(15), ramp);
  CHECK(c.at(0, 0, 0) == 4);
  CHECK(c.at(0, 1, 0) == 104);
  CHECK(run_step(center_crop(15), Image(21, 19, 1)).width == 15);

  // Inference on other shapes: MNIST-like digits as an OOD set of a CIFAR model, and the reverse.
  Image digit(28, 28, 1);
  for (size_t i = 0; i < digit.pixels.size(); ++i) digit.pixels[i] = static_cast<uint8_t>(i % 256);
  Generator gen(0);
  const Image as_cifar = eval_transform("cifar10").augment(digit, gen);
  CHECK(as_cifar.channels == 3);
  CHECK(as_cifar.width == 32);
  CHECK(as_cifar.at(7, 9, 0) == as_cifar.at(7, 9, 2));
  const Image as_mnist = eval_transform("fashion-mnist").augment(source(32, 32), gen);
  CHECK(as_mnist.channels == 1);
  CHECK(as_mnist.width == 28);
  const Image cifar_img = source(32, 32);
  CHECK(eval_transform("cifar100").augment(cifar_img, gen).pixels == cifar_img.pixels);  // no-op on 32x32 RGB
  const Image in = eval_transform("imagenet").augment(source(500, 375), gen);
  CHECK(in.width == 224);
  CHECK(in.height == 224);
  CHECK_THROWS_WITH_AS(normalization_for("svhn"), doctest::Contains("in-distribution"), Error);
  CHECK_THROWS_AS(train_transform("folder"), Error);
}
