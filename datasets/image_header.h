// What an image file's first bytes say before any decoder runs: its format, and the width and height
// its header declares, read the way the decoder that will read it does. decode_image uses both to
// refuse unsupported formats and decompression bombs before anything is allocated.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dismax {

// The formats an image folder holds (its extensions: .jpg .jpeg .png .ppm .pgm .bmp .tif .tiff .webp).
enum class ImageFormat { kUnsupported, kJpeg, kPng, kBmp, kPnm, kTiff, kWebp };

// By content, never by name. PNM is PBM/PGM/PPM (P1..P6); PAM (P7) is unsupported.
ImageFormat image_format_of(const uint8_t* data, size_t size);
const char* image_format_name(ImageFormat format);

struct DeclaredSize {
  uint64_t width = 0;
  uint64_t height = 0;
};

// The size the header of a PNG, BMP, PNM, TIFF (first directory, classic or BigTIFF) or WebP (VP8, VP8L
// or VP8X) declares. False when the header is malformed or cut short: such a file must not reach a
// decoder, which might read other numbers from it than these. Not for JPEG (libjpeg reads its header
// first) or kUnsupported (always false).
bool declared_image_size(ImageFormat format, const uint8_t* data, size_t size, DeclaredSize& out);

}  // namespace dismax
