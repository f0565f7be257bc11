#include "datasets/image_header.h"

#include <cstring>

namespace dismax {
namespace {

bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

uint64_t be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}
uint64_t le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

bool png_size(const uint8_t* d, size_t n, DeclaredSize& out) {
  // libpng requires IHDR first: length 13, then width and height, big-endian.
  if (n < 24 || std::memcmp(d + 12, "IHDR", 4) != 0) return false;
  out = {be(d + 16, 4), be(d + 20, 4)};
  return true;
}

bool bmp_size(const uint8_t* d, size_t n, DeclaredSize& out) {
  if (n < 26) return false;
  const uint64_t header = le(d + 14, 4);
  if (header == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    out = {le(d + 18, 2), le(d + 20, 2)};
    return true;
  }
  if (header < 36) return false;  // OpenCV reads no other header
  // BITMAPINFOHEADER and later: signed 32-bit, a negative height meaning top-down rows.
  const auto magnitude = [](uint64_t v) {
    const int64_t s = static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<uint64_t>(s < 0 ? -s : s);
  };
  out = {magnitude(le(d + 18, 4)), magnitude(le(d + 22, 4))};
  return true;
}

// Netpbm's grammar, strictly: numbers separated by whitespace and '#' comments (to the end of the line),
// each number ended by whitespace. OpenCV's reader is looser (any non-digit ends a number), so a header
// this refuses is one where the two could read different sizes.
bool pnm_size(const uint8_t* d, size_t n, DeclaredSize& out) {
  uint64_t values[2] = {0, 0};
  size_t i = 2;
  for (uint64_t& v : values) {
    while (i < n && (is_space(d[i]) || d[i] == '#')) {
      if (d[i] == '#')
        while (i < n && d[i] != '\n' && d[i] != '\r') ++i;
      else
        ++i;
    }
    if (i >= n || !is_digit(d[i])) return false;
    while (i < n && is_digit(d[i])) {
      if (v > (uint64_t{1} << 40)) return false;
      v = v * 10 + (d[i++] - '0');
    }
    if (i >= n || !is_space(d[i])) return false;
  }
  out = {values[0], values[1]};
  return true;
}

// The first image file directory, where libtiff (and so OpenCV, which decodes the first page) reads
// ImageWidth (tag 256) and ImageLength (257). Each must appear once, as one SHORT, LONG or LONG8.
bool tiff_size(const uint8_t* d, size_t n, DeclaredSize& out) {
  if (n < 8) return false;
  const bool little = d[0] == 'I';
  const auto num = [&](size_t at, int bytes) { return little ? le(d + at, bytes) : be(d + at, bytes); };
  const bool big = num(2, 2) == 43;
  if (big && (n < 16 || num(4, 2) != 8 || num(6, 2) != 0)) return false;
  const uint64_t directory = big ? num(8, 8) : num(4, 4);
  const size_t count_bytes = big ? 8 : 2, entry_bytes = big ? 20 : 12, value_at = big ? 12 : 8;
  if (directory < 8 || directory > n || n - directory < count_bytes) return false;
  const uint64_t entries = num(directory, static_cast<int>(count_bytes));
  if (entries > (n - directory - count_bytes) / entry_bytes) return false;
  uint64_t found[2] = {0, 0};
  int seen[2] = {0, 0};
  for (uint64_t e = 0; e < entries; ++e) {
    const size_t at = directory + count_bytes + e * entry_bytes;
    const uint64_t tag = num(at, 2);
    if (tag != 256 && tag != 257) continue;
    const uint64_t type = num(at + 2, 2), count = num(at + 4, big ? 8 : 4);
    const int width = type == 3 ? 2 : type == 4 ? 4 : type == 16 && big ? 8 : 0;
    if (width == 0 || count != 1) return false;
    found[tag - 256] = num(at + value_at, width);
    ++seen[tag - 256];
  }
  if (seen[0] != 1 || seen[1] != 1) return false;
  out = {found[0], found[1]};
  return true;
}

// RIFF "WEBP" and its first chunk, which libwebp requires to be VP8X (extended: the canvas), VP8 (lossy)
// or VP8L (lossless).
bool webp_size(const uint8_t* d, size_t n, DeclaredSize& out) {
  if (n < 30) return false;
  const uint8_t* chunk = d + 12;
  const uint8_t* data = d + 20;
  if (std::memcmp(chunk, "VP8X", 4) == 0) {
    out = {le(data + 4, 3) + 1, le(data + 7, 3) + 1};
    return true;
  }
  if (std::memcmp(chunk, "VP8 ", 4) == 0) {  // frame tag (3 bytes), start code 9d 01 2a, 14-bit sizes
    if (data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a) return false;
    out = {le(data + 6, 2) & 0x3fff, le(data + 8, 2) & 0x3fff};
    return true;
  }
  if (std::memcmp(chunk, "VP8L", 4) == 0) {  // signature 0x2f, then width-1 and height-1 in 14 bits each
    if (data[0] != 0x2f) return false;
    const uint64_t bits = le(data + 1, 4);
    out = {(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1};
    return true;
  }
  return false;
}

}  // namespace

ImageFormat image_format_of(const uint8_t* d, size_t n) {
  const auto starts = [&](const char* magic, size_t length) {
    return n >= length && std::memcmp(d, magic, length) == 0;
  };
  if (starts("\xff\xd8", 2)) return ImageFormat::kJpeg;
  if (starts("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (starts("BM", 2)) return ImageFormat::kBmp;
  if (starts("II*\0", 4) || starts("MM\0*", 4) || starts("II+\0", 4) || starts("MM\0+", 4)) return ImageFormat::kTiff;
  if (n >= 12 && starts("RIFF", 4) && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::kWebp;
  if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && (is_space(d[2]) || d[2] == '#'))
    return ImageFormat::kPnm;
  return ImageFormat::kUnsupported;
}

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kPnm: return "PPM/PGM";
    case ImageFormat::kTiff: return "TIFF";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kUnsupported: break;
  }
  return "unsupported";
}

bool declared_image_size(ImageFormat format, const uint8_t* data, size_t size, DeclaredSize& out) {
  switch (format) {
    case ImageFormat::kPng: return png_size(data, size, out);
    case ImageFormat::kBmp: return bmp_size(data, size, out);
    case ImageFormat::kPnm: return pnm_size(data, size, out);
    case ImageFormat::kTiff: return tiff_size(data, size, out);
    case ImageFormat::kWebp: return webp_size(data, size, out);
    case ImageFormat::kJpeg:
    case ImageFormat::kUnsupported: break;
  }
  return false;
}

}  // namespace dismax
