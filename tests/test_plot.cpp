#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/plot.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {

// ---- An independent PNG reader: chunk CRCs, a zlib inflate for stored and fixed-Huffman blocks, Adler-32.

uint32_t be32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

uint32_t bitwise_crc32(const std::string& s, size_t begin, size_t end) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = begin; i < end; ++i) {
    c ^= static_cast<uint8_t>(s[i]);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

class BitReader {
 public:
  BitReader(const std::string& s, size_t at) : s_(s), byte_(at) {}
  uint32_t bits(int n) {  // least significant bit first
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint32_t>(bit()) << i;
    return v;
  }
  int bit() {
    if (byte_ >= s_.size()) throw std::runtime_error("zlib stream ends early");
    const int b = (static_cast<uint8_t>(s_[byte_]) >> bit_) & 1;
    if (++bit_ == 8) bit_ = 0, ++byte_;
    return b;
  }
  void align() {
    if (bit_ != 0) bit_ = 0, ++byte_;
  }
  size_t byte() const { return byte_; }
  void skip(size_t n) { byte_ += n; }

 private:
  const std::string& s_;
  size_t byte_;
  int bit_ = 0;
};

int fixed_symbol(BitReader& r) {
  int code = 0;
  for (int len = 1; len <= 9; ++len) {
    code = (code << 1) | r.bit();
    if (len == 7 && code <= 23) return 256 + code;
    if (len == 8 && code >= 0x30 && code <= 0xBF) return code - 0x30;
    if (len == 8 && code >= 0xC0 && code <= 0xC7) return 280 + code - 0xC0;
    if (len == 9 && code >= 0x190) return 144 + code - 0x190;
  }
  FAIL("bad fixed Huffman code");
  return -1;
}

// Inflates a zlib stream starting at `at`; returns the data and checks the Adler-32 trailer.
std::vector<uint8_t> inflate_zlib(const std::string& z) {
  REQUIRE(z.size() >= 6);
  const uint8_t cmf = z[0], flg = z[1];
  CHECK((cmf & 0x0F) == 8);
  CHECK((cmf * 256 + flg) % 31 == 0);
  CHECK((flg & 0x20) == 0);
  static const int length_base[] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const int length_extra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                     2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static const int dist_base[] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                  33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static const int dist_extra[] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  std::vector<uint8_t> out;
  BitReader r(z, 2);
  for (bool last = false; !last;) {
    last = r.bit();
    const uint32_t type = r.bits(2);
    if (type == 0) {
      r.align();
      const size_t at = r.byte();
      const uint32_t len = static_cast<uint8_t>(z[at]) | static_cast<uint8_t>(z[at + 1]) << 8;
      const uint32_t nlen = static_cast<uint8_t>(z[at + 2]) | static_cast<uint8_t>(z[at + 3]) << 8;
      REQUIRE(len == (~nlen & 0xFFFF));
      out.insert(out.end(), z.begin() + at + 4, z.begin() + at + 4 + len);
      r.skip(4 + len);
    } else {
      REQUIRE_MESSAGE(type == 1, "only stored and fixed-Huffman blocks are expected");
      for (;;) {
        const int sym = fixed_symbol(r);
        if (sym < 256) {
          out.push_back(static_cast<uint8_t>(sym));
          continue;
        }
        if (sym == 256) break;
        REQUIRE(sym <= 285);
        const int length = length_base[sym - 257] + static_cast<int>(r.bits(length_extra[sym - 257]));
        int d = 0;
        for (int i = 0; i < 5; ++i) d = (d << 1) | r.bit();
        REQUIRE(d < 30);
        const size_t distance = dist_base[d] + r.bits(dist_extra[d]);
        REQUIRE(distance <= out.size());
        for (int i = 0; i < length; ++i) out.push_back(out[out.size() - distance]);
      }
    }
  }
  r.align();
  REQUIRE(r.byte() + 4 == z.size());
  uint32_t a = 1, b = 0;
  for (uint8_t v : out) a = (a + v) % 65521, b = (b + a) % 65521;
  CHECK(be32(z, r.byte()) == ((b << 16) | a));
  return out;
}

struct Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // (height, width, 3)
  Rgb at(int x, int y) const {
    const uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

Image decode_png(const std::string& png) {
  REQUIRE(png.size() > 8);
  REQUIRE(png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  Image im;
  std::string idat;
  bool ended = false;
  for (size_t at = 8; at < png.size();) {
    const uint32_t len = be32(png, at);
    REQUIRE(at + 12 + len <= png.size());
    const std::string type = png.substr(at + 4, 4);
    CHECK_MESSAGE(be32(png, at + 8 + len) == bitwise_crc32(png, at + 4, at + 8 + len), type << " CRC");
    if (type == "IHDR") {
      REQUIRE(len == 13);
      im.width = be32(png, at + 8);
      im.height = be32(png, at + 12);
      CHECK(png.substr(at + 16, 5) == std::string("\x08\x02\x00\x00\x00", 5));
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, len);
    } else if (type == "IEND") {
      ended = true;
    }
    at += 12 + len;
  }
  CHECK(ended);
  const std::vector<uint8_t> raw = inflate_zlib(idat);
  const size_t row = size_t(im.width) * 3 + 1;
  REQUIRE(raw.size() == row * im.height);
  for (uint32_t y = 0; y < im.height; ++y) {
    REQUIRE(raw[y * row] == 0);  // filter none
    im.rgb.insert(im.rgb.end(), raw.begin() + y * row + 1, raw.begin() + (y + 1) * row);
  }
  return im;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("dismax_plot_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

int column_of(double v, double lo, double hi) {
  return static_cast<int>(
      std::lround(kPlotFrame.left + (v - lo) / (hi - lo) * (kPlotFrame.right - kPlotFrame.left)));
}
int row_of(double v, double lo, double hi) {
  return static_cast<int>(
      std::lround(kPlotFrame.bottom - (v - lo) / (hi - lo) * (kPlotFrame.bottom - kPlotFrame.top)));
}

void check_colour(const Rgb& actual, const Rgb& expected, int tolerance) {
  CHECK(std::abs(actual.r - expected.r) <= tolerance);
  CHECK(std::abs(actual.g - expected.g) <= tolerance);
  CHECK(std::abs(actual.b - expected.b) <= tolerance);
}

}  // namespace

TEST_CASE("plot: PNG encoder round trip") {
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 7 * 5; ++i) {  // a pattern with runs and repeated rows
    const uint8_t v = static_cast<uint8_t>(i < 14 ? 200 : i * 37);
    rgb.insert(rgb.end(), {v, static_cast<uint8_t>(255 - v), static_cast<uint8_t>(i)});
  }
  const Image im = decode_png(encode_png(7, 5, rgb));
  CHECK(im.width == 7);
  CHECK(im.height == 5);
  CHECK(im.rgb == rgb);
  // A large flat image compresses to a small file.
  const std::vector<uint8_t> white(300 * 200 * 3, 255);
  const std::string png = encode_png(300, 200, white);
  CHECK(png.size() < 5000);
  CHECK(decode_png(png).rgb == white);
  CHECK_THROWS_AS(encode_png(2, 2, std::vector<uint8_t>(11)), Error);
  CHECK_THROWS_AS(encode_png(0, 2, {}), Error);
}

TEST_CASE("plot: ROC curve PNG") {
  TempDir dir;
  const fs::path path = dir.path / "roc.png";
  write_roc_png(path.string(), "CIFAR-10 vs SVHN: MMLES",
                {{"svhn", {0, 0.25, 1}, {0, 0.75, 1}, 0.8125}, {"lsun (resize)", {0, 1}, {0, 1}, 0.5}});
  const Image im = decode_png(read_file(path));
  CHECK(im.width == static_cast<uint32_t>(kPlotFrame.width));
  CHECK(im.height == static_cast<uint32_t>(kPlotFrame.height));
  // Halfway along the first curve's first segment: (0.125, 0.375).
  const int x = column_of(0.125, kRocAxisLow, kRocAxisHigh), y = row_of(0.375, kRocAxisLow, kRocAxisHigh);
  check_colour(im.at(x, y), plot_palette()[0], 0);
  check_colour(im.at(2, 2), kPlotBackground, 0);
  // The frame is drawn; the directory holds only the plot (the temporary file was renamed).
  const Rgb frame = im.at(kPlotFrame.left, (kPlotFrame.top + kPlotFrame.bottom) / 2);
  CHECK(frame.r < 100);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("plot: density histogram PNG") {
  TempDir dir;
  const fs::path path = dir.path / "hist.png";
  std::vector<double> uniform;
  for (int i = 0; i < 1000; ++i) uniform.push_back(i / 999.0);
  uniform.push_back(std::nan(""));
  const Rgb colour{31, 119, 180};
  write_histogram_png(path.string(), "MMLES scores", "score", {{"cifar10", uniform, colour}}, 10);
  const Image im = decode_png(read_file(path));
  // Ten bins of about 100 values over [0, 1]: densities near 1, the y axis up to about 1.1. The middle of
  // the fifth bar at density 0.5 holds the bar colour blended over white.
  const int x = column_of(0.45, 0, 1), y = row_of(0.5, 0, 1.1);
  const auto blend = [](uint8_t c) {
    return static_cast<uint8_t>(std::lround(kHistogramAlpha * c + (1 - kHistogramAlpha) * 255));
  };
  check_colour(im.at(x, y), {blend(colour.r), blend(colour.g), blend(colour.b)}, 0);
  // Above the first bar (density 1.06 of 1.1, left of the legend) stays white.
  check_colour(im.at(column_of(0.05, 0, 1), row_of(1.06, 0, 1.1)), kPlotBackground, 0);

  CHECK_THROWS_AS(write_histogram_png((dir.path / "x.png").string(), "t", "x", {}), Error);
  CHECK_THROWS_AS(
      write_histogram_png((dir.path / "x.png").string(), "t", "x", {{"nan", {std::nan("")}, colour}}), Error);
  CHECK_THROWS_AS(write_roc_png((dir.path / "x.png").string(), "t", {{"bad", {0, 1}, {0}, 0.5}}), Error);
  CHECK(!fs::exists(dir.path / "x.png"));
}
