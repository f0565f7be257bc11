#include "datasets/image.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "datasets/image_header.h"
#include "engine/error.h"
#include "engine/io/file.h"

#ifdef DISMAX_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#endif
#ifdef DISMAX_WITH_LIBJPEG
#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#endif

namespace dismax {

Image::Image(int w, int h, int c) : width(w), height(h), channels(c) {
  DISMAX_CHECK(w >= 0 && h >= 0 && (c == 1 || c == 3), "Image: invalid size ", w, "x", h, "x", c,
               " (channels must be 1 or 3)");
  pixels.assign(static_cast<size_t>(w) * h * c, 0);
}

Image crop(const Image& image, int left, int top, int width, int height) {
  DISMAX_CHECK(width >= 0 && height >= 0, "crop: negative size ", width, "x", height);
  Image out(width, height, image.channels);
  const int c = image.channels;
  const int x0 = std::max(left, 0), x1 = std::min(left + width, image.width);
  if (x1 <= x0) return out;
  for (int y = std::max(top, 0); y < std::min(top + height, image.height); ++y)
    std::memcpy(out.row(y - top) + (x0 - left) * c, image.row(y) + x0 * c, static_cast<size_t>(x1 - x0) * c);
  return out;
}

Image pad(const Image& image, int padding, uint8_t fill) {
  DISMAX_CHECK(padding >= 0, "pad: negative padding ", padding);
  Image out(image.width + 2 * padding, image.height + 2 * padding, image.channels);
  if (fill != 0) std::fill(out.pixels.begin(), out.pixels.end(), fill);
  const size_t row_bytes = static_cast<size_t>(image.width) * image.channels;
  for (int y = 0; y < image.height; ++y)
    std::memcpy(out.row(y + padding) + padding * image.channels, image.row(y), row_bytes);
  return out;
}

Image hflip(const Image& image) {
  Image out(image.width, image.height, image.channels);
  const int c = image.channels, w = image.width;
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = image.row(y);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) dst[(w - 1 - x) * c + k] = src[x * c + k];
  }
  return out;
}

// ---- PIL's resampler (libImaging/Resample.c), bilinear filter, 8 bits per channel.
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int ksize = 0;
  std::vector<int> bounds;  // (first input index, number of taps) per output index
  std::vector<int32_t> k;   // (out_size, ksize) fixed-point weights
};

Coefficients precompute_coefficients(int in_size, int out_size) {
  Coefficients co;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  co.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  co.bounds.resize(2 * static_cast<size_t>(out_size));
  co.k.assign(static_cast<size_t>(out_size) * co.ksize, 0);
  std::vector<double> w(co.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      double t = (x + xmin - center + 0.5) * ss;
      if (t < 0.0) t = -t;
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      co.k[static_cast<size_t>(xx) * co.ksize + x] =
          v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    co.bounds[2 * xx] = xmin;
    co.bounds[2 * xx + 1] = xmax;
  }
  return co;
}

inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// The horizontal coefficients re-laid for exactly `taps` taps per output (the most any output uses): the
// window start is moved left where it would run past the input and the weights shifted into place, zeros
// elsewhere. The sums are the same integers; a fixed trip count lets the compiler unroll the tap loop.
struct FixedTaps {
  int taps = 0;
  std::vector<int> start;
  std::vector<int32_t> k;  // (out_size, taps)
};

FixedTaps fixed_taps(const Coefficients& co, int in_size) {
  const int out_size = static_cast<int>(co.bounds.size() / 2);
  FixedTaps ft;
  for (int xx = 0; xx < out_size; ++xx) ft.taps = std::max(ft.taps, co.bounds[2 * xx + 1]);
  const int ks = ft.taps;
  ft.start.resize(out_size);
  ft.k.assign(static_cast<size_t>(out_size) * ks, 0);
  for (int xx = 0; xx < out_size; ++xx) {
    const int xmin = co.bounds[2 * xx], n = co.bounds[2 * xx + 1];
    const int start = std::max(0, std::min(xmin, in_size - ks));
    ft.start[xx] = start;
    for (int x = 0; x < n; ++x)
      ft.k[static_cast<size_t>(xx) * ks + (xmin - start) + x] = co.k[static_cast<size_t>(xx) * co.ksize + x];
  }
  return ft;
}

template <int C, int K>
inline __attribute__((always_inline)) void horizontal_fixed(const Image& src, int left, int top, Image& dst,
                                                            const FixedTaps& ft) {
  for (int y = 0; y < dst.height; ++y) {
    const uint8_t* in = src.row(top + y) + left * C;
    uint8_t* out = dst.row(y);
    for (int xx = 0; xx < dst.width; ++xx) {
      const uint8_t* p = in + ft.start[xx] * C;
      const int32_t* k = &ft.k[static_cast<size_t>(xx) * K];
      int32_t acc[C];
      for (int c = 0; c < C; ++c) acc[c] = 1 << (kPrecisionBits - 1);
      for (int x = 0; x < K; ++x)
        for (int c = 0; c < C; ++c) acc[c] += p[x * C + c] * k[x];
      for (int c = 0; c < C; ++c) out[xx * C + c] = clip8(acc[c]);
    }
  }
}

template <int C>
inline __attribute__((always_inline)) void horizontal_any(const Image& src, int left, int top, Image& dst,
                                                          const Coefficients& co) {
  for (int y = 0; y < dst.height; ++y) {
    const uint8_t* in = src.row(top + y) + left * C;
    uint8_t* out = dst.row(y);
    for (int xx = 0; xx < dst.width; ++xx) {
      const int xmin = co.bounds[2 * xx], n = co.bounds[2 * xx + 1];
      const int32_t* k = &co.k[static_cast<size_t>(xx) * co.ksize];
      int32_t acc[C];
      for (int c = 0; c < C; ++c) acc[c] = 1 << (kPrecisionBits - 1);
      const uint8_t* p = in + xmin * C;
      for (int x = 0; x < n; ++x)
        for (int c = 0; c < C; ++c) acc[c] += p[x * C + c] * k[x];
      for (int c = 0; c < C; ++c) out[xx * C + c] = clip8(acc[c]);
    }
  }
}

// Horizontal pass over dst.height source rows from `top`, columns from `left` (in_size of them).
__attribute__((target_clones("avx2", "default"))) void resample_horizontal(const Image& src, int left,
                                                                           int top, int in_size, Image& dst,
                                                                           const Coefficients& co) {
  const bool rgb = src.channels == 3;
  const FixedTaps ft = fixed_taps(co, in_size);
  if (ft.taps <= in_size) {
    switch (ft.taps * 2 + rgb) {
#define DISMAX_TAPS_CASE(K)                                 \
  case K * 2 + 1:                                           \
    return horizontal_fixed<3, K>(src, left, top, dst, ft); \
  case K * 2:                                               \
    return horizontal_fixed<1, K>(src, left, top, dst, ft);
      DISMAX_TAPS_CASE(2)
      DISMAX_TAPS_CASE(3)
      DISMAX_TAPS_CASE(4)
      DISMAX_TAPS_CASE(5)
      DISMAX_TAPS_CASE(6)
#undef DISMAX_TAPS_CASE
      default:
        break;
    }
  }
  if (rgb)
    horizontal_any<3>(src, left, top, dst, co);
  else
    horizontal_any<1>(src, left, top, dst, co);
}

// Vertical pass: output row yy is a weighted sum of source rows top + bounds; columns from `left`.
__attribute__((target_clones("avx2", "default"))) void resample_vertical(const Image& src, int left, int top,
                                                                         Image& dst, const Coefficients& co) {
  const int n_values = dst.width * dst.channels;
  std::vector<int32_t> acc(n_values);
  for (int yy = 0; yy < dst.height; ++yy) {
    const int ymin = co.bounds[2 * yy], n = co.bounds[2 * yy + 1];
    const int32_t* k = &co.k[static_cast<size_t>(yy) * co.ksize];
    int32_t* a = acc.data();
    for (int i = 0; i < n_values; ++i) a[i] = 1 << (kPrecisionBits - 1);
    for (int y = 0; y < n; ++y) {
      const uint8_t* in = src.row(top + ymin + y) + left * src.channels;
      const int32_t kv = k[y];
      for (int i = 0; i < n_values; ++i) a[i] += in[i] * kv;
    }
    uint8_t* out = dst.row(yy);
    for (int i = 0; i < n_values; ++i) out[i] = clip8(a[i]);
  }
}

}  // namespace

Image resized_crop(const Image& image, int left, int top, int width, int height, int out_width,
                   int out_height) {
  DISMAX_CHECK(left >= 0 && top >= 0 && width > 0 && height > 0 && left + width <= image.width &&
                   top + height <= image.height,
               "resized_crop: region (", left, ", ", top, ", ", width, "x", height, ") is not inside the ",
               image.width, "x", image.height, " image");
  DISMAX_CHECK(out_width > 0 && out_height > 0, "resize: invalid output size ", out_width, "x", out_height);
  const bool need_horizontal = out_width != width, need_vertical = out_height != height;
  if (!need_horizontal && !need_vertical) return crop(image, left, top, width, height);
  const Coefficients vert = precompute_coefficients(height, out_height);
  if (!need_horizontal) {
    Image out(out_width, out_height, image.channels);
    resample_vertical(image, left, top, out, vert);
    return out;
  }
  const Coefficients hor = precompute_coefficients(width, out_width);
  // Only the source rows the vertical pass reads (PIL's ybox_first / ybox_last).
  const int ybox_first = vert.bounds[0];
  const int ybox_last = vert.bounds[2 * (out_height - 1)] + vert.bounds[2 * (out_height - 1) + 1];
  Image tmp(out_width, ybox_last - ybox_first, image.channels);
  resample_horizontal(image, left, top + ybox_first, width, tmp, hor);
  if (!need_vertical) return tmp;
  Image out(out_width, out_height, image.channels);
  resample_vertical(tmp, 0, -ybox_first, out, vert);
  return out;
}

Image resize_bilinear(const Image& image, int width, int height) {
  DISMAX_CHECK(!image.empty(), "resize: empty image");
  return resized_crop(image, 0, 0, image.width, image.height, width, height);
}

Image to_rgb(const Image& image) {
  if (image.channels == 3) return image;
  Image out(image.width, image.height, 3);
  const size_t n = static_cast<size_t>(image.width) * image.height;
  for (size_t i = 0; i < n; ++i)
    out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = image.pixels[i];
  return out;
}

Image to_grey(const Image& image) {
  if (image.channels == 1) return image;
  Image out(image.width, image.height, 1);
  const size_t n = static_cast<size_t>(image.width) * image.height;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &image.pixels[3 * i];
    out.pixels[i] = static_cast<uint8_t>((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
  }
  return out;
}

// ---- files

namespace {

std::atomic<int64_t> max_pixels{kDefaultMaxImagePixels};

bool too_many_pixels(uint64_t width, uint64_t height) {
  const int64_t cap = max_pixels.load();
  return cap > 0 && (width > static_cast<uint64_t>(cap) || height > static_cast<uint64_t>(cap) ||
                     width * height > static_cast<uint64_t>(cap));
}

std::string bomb_message(uint64_t width, uint64_t height) {
  return detail::concat("it declares ", width, "x", height, " = ", width * height,
                        " pixels, more than the limit of ", max_pixels.load(),
                        " (a decompression bomb?); raise it with --max-image-pixels");
}

// Before any decoder runs: a format an image folder holds, a header that reads, a size within the limit.
// Returns the format.
ImageFormat check_header(const uint8_t* data, size_t size, const std::string& what) {
  const ImageFormat format = image_format_of(data, size);
  // OpenCV's other decoders (JPEG 2000, OpenEXR, Radiance, Sun raster and, through GDAL, formats that
  // name other files or URLs) are attack surface no dataset needs.
  DISMAX_CHECK(format != ImageFormat::kUnsupported, "cannot decode image ", what,
               ": not a JPEG, PNG, BMP, PPM/PGM, TIFF or WebP file (by its first bytes)");
  if (format == ImageFormat::kJpeg) return format;  // libjpeg reads its header, then decode_jpeg checks
  DeclaredSize declared;
  DISMAX_CHECK(declared_image_size(format, data, size, declared), "cannot decode image ", what, ": malformed ",
               image_format_name(format), " header");
  if (too_many_pixels(declared.width, declared.height))
    DISMAX_FAIL("cannot decode image ", what, ": ", bomb_message(declared.width, declared.height));
  return format;
}

}  // namespace

void set_max_image_pixels(int64_t pixels) {
  DISMAX_CHECK(pixels >= 0, "--max-image-pixels must be >= 0 (0 = no limit), got ", pixels);
  max_pixels.store(pixels);
}
int64_t max_image_pixels() { return max_pixels.load(); }

bool image_decoding_available() {
#ifdef DISMAX_WITH_OPENCV
  return true;
#else
  return false;
#endif
}

#ifndef DISMAX_WITH_OPENCV
namespace {
[[noreturn]] void fail_without_opencv(const std::string& what) {
  DISMAX_FAIL("dismax was built without OpenCV; image folders need it (cannot decode ", what,
              "; install libopencv-dev and reconfigure with -DDISMAX_OPENCV=ON)");
}
}  // namespace
#endif

#ifdef DISMAX_WITH_LIBJPEG
namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}
void jpeg_silent(j_common_ptr, int) {}  // warnings (e.g. extraneous bytes) are ignored, as PIL does

// Decodes with libjpeg(-turbo) the way PIL does (default IDCT and fancy upsampling; grey as L, CMYK read
// with Adobe's inverted polarity) into `out` as 1 (grey) or 4 (CMYK) or 3 (RGB) channels. Returns false and
// fills `message` on a libjpeg error. Only trivially destructible locals live across setjmp.
bool libjpeg_decode(const uint8_t* data, size_t size, std::vector<uint8_t>& out, int& width, int& height,
                    int& components, char* message) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_silent;
  if (setjmp(err.jump)) {
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (too_many_pixels(cinfo.image_width, cinfo.image_height)) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", bomb_message(cinfo.image_width, cinfo.image_height).c_str());
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = cinfo.num_components == 1   ? JCS_GRAYSCALE
                          : cinfo.num_components == 4 ? JCS_CMYK
                                                      : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  width = static_cast<int>(cinfo.output_width);
  height = static_cast<int>(cinfo.output_height);
  components = cinfo.output_components;
  out.resize(static_cast<size_t>(width) * height * components);
  const size_t stride = static_cast<size_t>(width) * components;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[8];
    const unsigned first = cinfo.output_scanline;
    for (unsigned r = 0; r < 8; ++r)
      rows[r] = out.data() + std::min<size_t>(first + r, cinfo.output_height - 1) * stride;
    jpeg_read_scanlines(&cinfo, rows, std::min(8u, cinfo.output_height - first));
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& what) {
  std::vector<uint8_t> raw;
  int width = 0, height = 0, components = 0;
  char message[JMSG_LENGTH_MAX] = {0};
  DISMAX_CHECK(libjpeg_decode(data, size, raw, width, height, components, message), "cannot decode image ",
               what, ": ", message);
  DISMAX_CHECK(components == 1 || components == 3 || components == 4, "cannot decode image ", what, ": ",
               components, "-component JPEG");
  Image out(width, height, 3);
  const size_t n = static_cast<size_t>(width) * height;
  if (components == 3) {
    out.pixels = std::move(raw);
  } else if (components == 1) {
    for (size_t i = 0; i < n; ++i) out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = raw[i];
  } else {
    // PIL: rawmode "CMYK;I" (inverted, Adobe's convention), then convert("RGB"):
    // channel = clip(nk - nk * c / 255) with nk = 255 - k, rounded as MULDIV255.
    for (size_t i = 0; i < n; ++i) {
      const int nk = raw[4 * i + 3];  // 255 - inverted k
      for (int c = 0; c < 3; ++c) {
        const int v = 255 - raw[4 * i + c];
        const int tmp = v * nk + 128;
        const int r = nk - (((tmp >> 8) + tmp) >> 8);
        out.pixels[3 * i + c] = static_cast<uint8_t>(r < 0 ? 0 : r);
      }
    }
  }
  return out;
}

}  // namespace
#endif

Image decode_image(const uint8_t* data, size_t size, const std::string& what) {
#ifdef DISMAX_WITH_OPENCV
  DISMAX_CHECK(size > 0, "cannot decode image ", what, ": the file is empty");
  if (check_header(data, size, what) == ImageFormat::kJpeg) {
    // libjpeg pads a truncated JPEG with grey and only warns; PIL refuses it, and so do we.
    bool has_end = false;
    for (size_t i = size - 1; i >= 3 && !has_end; --i) has_end = data[i - 1] == 0xFF && data[i] == 0xD9;
    DISMAX_CHECK(has_end, "cannot decode image ", what, ": truncated JPEG (no end-of-image marker)");
#ifdef DISMAX_WITH_LIBJPEG
    return decode_jpeg(data, size, what);
#endif
  }
  // OpenCV's own pixel limit (OPENCV_IO_MAX_IMAGE_PIXELS, 2^30 by default) is read when its library
  // loads, too early for --max-image-pixels to set it: check_header is the guard.
  DISMAX_CHECK(size <= static_cast<size_t>(INT32_MAX), "cannot decode image ", what, ": file of ", size,
               " bytes is too large");
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(size), CV_8U, const_cast<uint8_t*>(data));
    decoded = cv::imdecode(buffer, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    DISMAX_FAIL("cannot decode image ", what, ": ", e.what());
  }
  DISMAX_CHECK(!decoded.empty() && decoded.type() == CV_8UC3, "cannot decode image ", what,
               " (corrupt, truncated or not an image)");
  Image out(decoded.cols, decoded.rows, 3);
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = decoded.ptr<uint8_t>(y);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < out.width; ++x) {
      dst[3 * x] = src[3 * x + 2];
      dst[3 * x + 1] = src[3 * x + 1];
      dst[3 * x + 2] = src[3 * x];
    }
  }
  return out;
#else
  (void)data;
  (void)size;
  fail_without_opencv(what);
#endif
}

Image read_image(const std::string& path) {
#ifdef DISMAX_WITH_OPENCV
  const std::string bytes = read_whole_file(path, "image file");
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
#else
  fail_without_opencv(path);
#endif
}

void write_image(const std::string& path, const Image& image, int jpeg_quality) {
#ifdef DISMAX_WITH_OPENCV
  DISMAX_CHECK(!image.empty(), "write_image: empty image for ", path);
  cv::Mat m(image.height, image.width, image.channels == 3 ? CV_8UC3 : CV_8UC1);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = image.row(y);
    uint8_t* dst = m.ptr<uint8_t>(y);
    if (image.channels == 1) {
      std::memcpy(dst, src, image.width);
    } else {
      for (int x = 0; x < image.width; ++x) {
        dst[3 * x] = src[3 * x + 2];
        dst[3 * x + 1] = src[3 * x + 1];
        dst[3 * x + 2] = src[3 * x];
      }
    }
  }
  bool ok = false;
  try {
    ok = cv::imwrite(path, m, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality});
  } catch (const cv::Exception& e) {
    DISMAX_FAIL("cannot write image ", path, ": ", e.what());
  }
  DISMAX_CHECK(ok, "cannot write image ", path, " (unknown extension or unwritable directory)");
#else
  (void)image;
  (void)jpeg_quality;
  fail_without_opencv(path);
#endif
}

}  // namespace dismax
