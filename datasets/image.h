// Image: an 8-bit picture, row-major HWC, 1 (grey) or 3 (RGB) channels: what the readers produce and the
// transforms work on. Also the pixel operations the transforms are made of (crop, pad, flip, PIL-exact
// bilinear resampling, colour conversion) and image file decoding (OpenCV, when built with it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dismax {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;             // 1 or 3 (0 for the empty image)
  std::vector<uint8_t> pixels;  // (height, width, channels)

  Image() = default;
  Image(int width, int height, int channels);  // zero-filled; requires sizes >= 0 and channels 1 or 3
  bool empty() const { return pixels.empty(); }
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * channels; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * channels; }
  uint8_t& at(int x, int y, int c) { return row(y)[x * channels + c]; }
  uint8_t at(int x, int y, int c) const { return row(y)[x * channels + c]; }
};

// ---- geometry (all deterministic; the random choices are the transforms')

// The region [left, left+width) x [top, top+height); parts outside the image are zero (PIL's crop).
Image crop(const Image& image, int left, int top, int width, int height);
// Adds `padding` pixels of value `fill` on every side.
Image pad(const Image& image, int padding, uint8_t fill = 0);
Image hflip(const Image& image);
// PIL's Image.resize(size, BILINEAR): separable triangle filter whose support widens by the downscale
// factor (antialiasing), 22-bit fixed-point coefficients, horizontal pass first, each pass rounded to 8 bits.
// Same size: a copy.
Image resize_bilinear(const Image& image, int width, int height);
// resize_bilinear(crop(image, left, top, width, height), out_width, out_height) without the intermediate
// copy; the region must lie inside the image.
Image resized_crop(const Image& image, int left, int top, int width, int height, int out_width,
                   int out_height);

// ---- colour
Image to_rgb(const Image& image);   // grey replicated to 3 channels; RGB unchanged
Image to_grey(const Image& image);  // PIL's convert("L"): (19595 R + 38470 G + 7471 B + 2^15) >> 16

// ---- files
// Decompression-bomb guard: a file whose header declares more pixels than this is refused (an error
// naming the file and its size) before anything is allocated for it, on every decoding path. Default
// 178,956,970 (PIL's limit for a DecompressionBombError, 2 x Image.MAX_IMAGE_PIXELS); 0 = no limit.
// The binaries' --max-image-pixels sets it.
constexpr int64_t kDefaultMaxImagePixels = 178956970;
void set_max_image_pixels(int64_t pixels);
int64_t max_image_pixels();

// True when this build decodes image files (OpenCV); otherwise decode_image/read_image/write_image throw.
bool image_decoding_available();
// Decodes JPEG/PNG/BMP/PPM/TIFF/WebP bytes to RGB (grey, palette and CMYK converted, alpha dropped, EXIF
// orientation ignored, like PIL's convert("RGB")). A JPEG without its end marker counts as truncated.
// Any other format (told by the first bytes, not the name) is refused before a decoder sees it.
// Throws dismax::Error naming `what` (the path) on corrupt, truncated or unsupported data.
Image decode_image(const uint8_t* data, size_t size, const std::string& what);
Image read_image(const std::string& path);
// Writes PNG/JPEG/... by the file extension (jpeg_quality for JPEG). For tests and tools.
void write_image(const std::string& path, const Image& image, int jpeg_quality = 95);

}  // namespace dismax
