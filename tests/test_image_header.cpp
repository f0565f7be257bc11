// The header reader in front of every image decoder: formats by content, and the declared sizes of each
// format read the way its decoder reads them (or refused as malformed).
#include <doctest/doctest.h>

#include <array>
#include <string>

#include "datasets/image_header.h"

using namespace dismax;

namespace {

ImageFormat format_of(const std::string& bytes) {
  return image_format_of(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// The declared size as "WxH", or "malformed".
std::string size_of(const std::string& bytes) {
  DeclaredSize size;
  const auto* d = reinterpret_cast<const uint8_t*>(bytes.data());
  if (!declared_image_size(image_format_of(d, bytes.size()), d, bytes.size(), size)) return "malformed";
  return std::to_string(size.width) + "x" + std::to_string(size.height);
}

// A literal with its NUL bytes kept.
template <size_t N>
std::string raw(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string le16(unsigned v) { return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
std::string le32(unsigned v) { return le16(v & 0xffff) + le16(v >> 16); }
std::string be16(unsigned v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
std::string be32(unsigned v) { return be16(v >> 16) + be16(v & 0xffff); }

// A little-endian classic TIFF whose first directory holds `entries` (tag, type, value) after 8 bytes.
std::string tiff(std::initializer_list<std::array<unsigned, 3>> entries) {
  std::string t = std::string("II*\0", 4) + le32(8) + le16(static_cast<unsigned>(entries.size()));
  for (const auto& [tag, type, value] : entries) t += le16(tag) + le16(type) + le32(1) + le32(value);
  return t + le32(0);
}

}  // namespace

TEST_CASE("image formats are told by their first bytes; anything else is unsupported") {
  CHECK(format_of("\xff\xd8\xff\xe0") == ImageFormat::kJpeg);
  CHECK(format_of("\x89PNG\r\n\x1a\n") == ImageFormat::kPng);
  CHECK(format_of("BM....") == ImageFormat::kBmp);
  CHECK(format_of("P6\n") == ImageFormat::kPnm);
  CHECK(format_of("P5#c\n") == ImageFormat::kPnm);
  CHECK(format_of(std::string("MM\0*", 4)) == ImageFormat::kTiff);
  CHECK(format_of(std::string("II+\0", 4)) == ImageFormat::kTiff);
  CHECK(format_of(raw("RIFF\x10\0\0\0WEBPVP8 ")) == ImageFormat::kWebp);
  for (const std::string bytes : {std::string("P7\nWIDTH 1"), std::string("P63 2"), std::string("GIF89a"),
                                  std::string("RIFF\0\0\0\0WAVE", 12), std::string("\0\0\0\x0cjP  ", 8),
                                  std::string("<VRTDataset>"), std::string(""), std::string("B")}) {
    CAPTURE(bytes);
    CHECK(format_of(bytes) == ImageFormat::kUnsupported);
  }
  DeclaredSize size;
  CHECK_FALSE(declared_image_size(ImageFormat::kJpeg, reinterpret_cast<const uint8_t*>("\xff\xd8"), 2, size));
}

TEST_CASE("PNG and BMP declared sizes") {
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IHDR" + be32(70000) + be32(3);
  CHECK(size_of(png) == "70000x3");
  CHECK(size_of(png.substr(0, 23)) == "malformed");
  CHECK(size_of(std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IDAT" + be32(1) + be32(1)) == "malformed");

  const std::string file_header = "BM" + le32(0) + le32(0) + le32(54);
  CHECK(size_of(file_header + le32(40) + le32(640) + le32(static_cast<unsigned>(-480))) == "640x480");  // top-down
  CHECK(size_of(file_header + le32(12) + le16(65535) + le16(2) + le16(1) + le16(24)) == "65535x2");      // OS/2
  CHECK(size_of(file_header + le32(20) + le32(1) + le32(1)) == "malformed");  // no decoder reads this header
  CHECK(size_of("BM" + le32(0)) == "malformed");
}

TEST_CASE("PNM sizes follow Netpbm strictly, so that OpenCV's looser reader cannot see other numbers") {
  CHECK(size_of("P6\n640 480\n255\n") == "640x480");
  CHECK(size_of("P5 # a comment 9 9\n# another\r12\t\t34 255 ") == "12x34");
  CHECK(size_of("P4\n8 2\n") == "8x2");
  // Found by the fuzzer: OpenCV read "000014856[061711" as 14856 x 61711 and allocated 2.75 GB.
  CHECK(size_of("P5\n000014856[061711P5\n2\n2957\n") == "malformed");
  CHECK(size_of("P5\n3#2\n4 255\n") == "malformed");
  CHECK(size_of("P5\n3 4") == "malformed");  // cut short: the height is not ended
  CHECK(size_of("P5\n3 x4 255 ") == "malformed");
  CHECK(size_of("P5\n99999999999999999999 1 255 ") == "malformed");
}

TEST_CASE("TIFF sizes are the first directory's ImageWidth and ImageLength") {
  CHECK(size_of(tiff({{256, 3, 300}, {257, 4, 200}, {258, 3, 8}})) == "300x200");
  CHECK(size_of(tiff({{256, 4, 100000}, {257, 4, 100000}})) == "100000x100000");
  const std::string big_endian = std::string("MM\0*", 4) + be32(8) + be16(2) + be16(256) + be16(3) + be32(1) +
                                 be16(7) + be16(0) + be16(257) + be16(4) + be32(1) + be32(9) + be32(0);
  CHECK(size_of(big_endian) == "7x9");
  std::string bigtiff = std::string("II+\0", 4) + le16(8) + le16(0) + le32(16) + le32(0) + le32(2) + le32(0);
  for (unsigned tag : {256u, 257u}) bigtiff += le16(tag) + le16(16) + le32(1) + le32(0) + le32(tag - 250) + le32(0);
  CHECK(size_of(bigtiff) == "6x7");
  CHECK(size_of(tiff({{256, 3, 300}})) == "malformed");                               // no length
  CHECK(size_of(tiff({{256, 3, 3}, {257, 3, 4}, {256, 4, 1u << 30}})) == "malformed");  // width twice
  CHECK(size_of(tiff({{256, 1, 3}, {257, 3, 4}})) == "malformed");                    // BYTE: not a size type
  std::string offset_past_end = tiff({{256, 3, 3}, {257, 3, 4}});
  offset_past_end.replace(4, 4, le32(1000));
  CHECK(size_of(offset_past_end) == "malformed");
  std::string too_many_entries = tiff({{256, 3, 3}, {257, 3, 4}});
  too_many_entries.replace(8, 2, le16(3));
  CHECK(size_of(too_many_entries) == "malformed");
}

TEST_CASE("WebP sizes from VP8 (lossy), VP8L (lossless) and VP8X (extended) first chunks") {
  const std::string riff = "RIFF" + le32(100) + "WEBP";
  CHECK(size_of(riff + "VP8 " + le32(20) + raw("\x10\x02\x00\x9d\x01\x2a") + le16(0xc000 | 640) + le16(480) +
                std::string(4, '\0')) == "640x480");  // the scale bits are not size
  const unsigned vp8l = (16383 - 1) | (2 - 1) << 14;
  CHECK(size_of(riff + "VP8L" + le32(20) + "\x2f" + le32(vp8l) + std::string(8, '\0')) == "16383x2");
  CHECK(size_of(riff + "VP8X" + le32(10) + le32(0) + raw("\xff\xff\x00\x01\x00\x00") + std::string(4, '\0')) ==
        "65536x2");
  CHECK(size_of(riff + "VP8 " + le32(20) + raw("\x10\x02\x00\x9d\x01\x2b") + std::string(8, '\0')) == "malformed");
  CHECK(size_of(riff + "ALPH" + le32(20) + std::string(14, '\0')) == "malformed");
  CHECK(size_of(riff + "VP8L") == "malformed");
}
