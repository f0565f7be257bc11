#include "tools/plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/error.h"
#include "engine/io/file.h"

namespace dismax {

const std::vector<Rgb>& plot_palette() {
  static const std::vector<Rgb> p = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},
                                     {214, 39, 40},  {148, 103, 189}, {140, 86, 75}};
  return p;
}

namespace {

// ---------------------------------------------------------------------------------------------------------
// Font: 5x7 glyphs for ASCII 32..126, one byte per row from the top, bit 4 is the leftmost column.
const uint8_t kFont[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04},  // !
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00},  // "
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A},  // #
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04},  // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},  // %
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D},  // &
    {0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},  // '
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},  // )
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00},  // *
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},  // +
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},  // ,
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},  // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},  // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},  // /
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},  // 9
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},  // :
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08},  // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},  // <
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00},  // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},  // >
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},  // ?
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E},  // @
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11},  // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},  // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},  // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},  // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},  // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},  // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},  // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},  // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},  // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},  // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},  // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},  // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},  // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},  // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},  // X
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},  // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},  // Z
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E},  // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00},  // backslash
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E},  // ]
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00},  // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},  // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00},  // `
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F},  // a
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E},  // b
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E},  // c
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F},  // d
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E},  // e
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08},  // f
    {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // g
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},  // h
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E},  // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C},  // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},  // k
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // l
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11},  // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},  // n
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E},  // o
    {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10},  // p
    {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01},  // q
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},  // r
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E},  // s
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06},  // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D},  // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04},  // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A},  // w
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11},  // x
    {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // y
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F},  // z
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02},  // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // |
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08},  // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00},  // ~
};
constexpr int kGlyphWidth = 5, kGlyphHeight = 7, kAdvance = 6;

const uint8_t* glyph(char ch) {
  const int c = static_cast<unsigned char>(ch);
  return kFont[(c >= 32 && c <= 126 ? c : '?') - 32];
}

int text_width(const std::string& s, int scale) {
  return s.empty() ? 0 : (static_cast<int>(s.size()) * kAdvance - 1) * scale;
}

// ---------------------------------------------------------------------------------------------------------
// Raster

constexpr Rgb kInk{30, 30, 30};
constexpr Rgb kGrey{150, 150, 150};

uint8_t mix(uint8_t c, uint8_t below, double alpha) {
  return static_cast<uint8_t>(std::lround(alpha * c + (1 - alpha) * below));
}

class Canvas {
 public:
  Canvas(int width, int height) : width_(width), height_(height), pixels_(size_t(width) * height * 3) {
    for (size_t i = 0; i < pixels_.size(); i += 3) {
      pixels_[i] = kPlotBackground.r;
      pixels_[i + 1] = kPlotBackground.g;
      pixels_[i + 2] = kPlotBackground.b;
    }
    unclip();
  }

  // Drawing is limited to [x0, x1] x [y0, y1] until unclip().
  void clip(int x0, int y0, int x1, int y1) { clip_ = {x0, y0, x1, y1}; }
  void unclip() { clip_ = {0, 0, width_ - 1, height_ - 1}; }

  void blend(int x, int y, Rgb c, double alpha = 1.0) {
    if (x < clip_[0] || y < clip_[1] || x > clip_[2] || y > clip_[3]) return;
    uint8_t* p = &pixels_[(size_t(y) * width_ + x) * 3];
    p[0] = mix(c.r, p[0], alpha);
    p[1] = mix(c.g, p[1], alpha);
    p[2] = mix(c.b, p[2], alpha);
  }

  // [x0, x1) x [y0, y1)
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c, double alpha = 1.0) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) blend(x, y, c, alpha);
  }

  // A line of square dots `thickness` wide; with dash > 0, alternately dash dots drawn and dash skipped.
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness, int dash = 0) {
    const int steps =
        std::max(1, static_cast<int>(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))));
    const int lo = -(thickness - 1) / 2, hi = thickness / 2;
    for (int k = 0; k <= steps; ++k) {
      if (dash > 0 && (k / dash) % 2 == 1) continue;
      const int x = static_cast<int>(std::lround(x0 + (x1 - x0) * k / steps));
      const int y = static_cast<int>(std::lround(y0 + (y1 - y0) * k / steps));
      for (int dy = lo; dy <= hi; ++dy)
        for (int dx = lo; dx <= hi; ++dx) blend(x + dx, y + dy, c);
    }
  }

  // Text with its top-left corner at (x, y); with up, rotated a quarter turn counter-clockwise so that it
  // reads upwards from (x, y), its glyph tops facing left.
  void text(int x, int y, const std::string& s, int scale, Rgb c, bool up = false) {
    for (size_t i = 0; i < s.size(); ++i) {
      const uint8_t* g = glyph(s[i]);
      for (int gy = 0; gy < kGlyphHeight; ++gy)
        for (int gx = 0; gx < kGlyphWidth; ++gx) {
          if (!(g[gy] & (0x10 >> gx))) continue;
          const int tx = (static_cast<int>(i) * kAdvance + gx) * scale, ty = gy * scale;
          for (int sy = 0; sy < scale; ++sy)
            for (int sx = 0; sx < scale; ++sx) {
              if (up)
                blend(x + ty + sy, y - tx - sx, c);
              else
                blend(x + tx + sx, y + ty + sy, c);
            }
        }
    }
  }

  const std::vector<uint8_t>& pixels() const { return pixels_; }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;  // (height, width, 3)
  std::array<int, 4> clip_{};
};

// ---------------------------------------------------------------------------------------------------------
// Axes

struct Range {
  double lo, hi;
};

double column(double v, Range r) {
  return kPlotFrame.left + (v - r.lo) / (r.hi - r.lo) * (kPlotFrame.right - kPlotFrame.left);
}
double row(double v, Range r) {
  return kPlotFrame.bottom - (v - r.lo) / (r.hi - r.lo) * (kPlotFrame.bottom - kPlotFrame.top);
}
int px(double v) { return static_cast<int>(std::lround(v)); }

// About five ticks at 1, 2, 2.5 or 5 times a power of ten.
double tick_step(Range r) {
  const double raw = (r.hi - r.lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * magnitude;
}

std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-6) v = 0;
  int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  const double scaled = step * std::pow(10.0, decimals);
  if (std::abs(scaled - std::round(scaled)) > 1e-6) ++decimals;  // 0.25, 2.5e-3
  char buf[64];
  if (std::abs(v) >= 1e6 || decimals > 4)
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Shortens s with "..." so that it is at most `width` pixels wide at `scale`.
std::string fit(const std::string& s, int width, int scale) {
  if (text_width(s, scale) <= width) return s;
  const int chars = std::max(0, (width / scale + 1) / kAdvance - 3);
  return s.substr(0, chars) + "...";
}

// Title, frame, ticks with labels and the axis labels around the data rectangle.
void draw_axes(Canvas& c, const std::string& title, Range x, Range y, const std::string& xlabel,
               const std::string& ylabel) {
  const PlotFrame& f = kPlotFrame;
  c.unclip();
  const int title_scale = text_width(title, 2) <= f.width - 20 ? 2 : 1;
  const std::string t = fit(title, f.width - 20, title_scale);
  c.text((f.width - text_width(t, title_scale)) / 2, 18, t, title_scale, kInk);

  c.line(f.left, f.top, f.right, f.top, kInk, 1);
  c.line(f.left, f.bottom, f.right, f.bottom, kInk, 1);
  c.line(f.left, f.top, f.left, f.bottom, kInk, 1);
  c.line(f.right, f.top, f.right, f.bottom, kInk, 1);

  const double xs = tick_step(x), ys = tick_step(y);
  for (double k = std::ceil(x.lo / xs - 1e-9); k * xs <= x.hi + xs * 1e-9; k += 1) {
    const int cx = px(column(k * xs, x));
    c.line(cx, f.bottom, cx, f.bottom + 6, kInk, 1);
    const std::string s = tick_label(k * xs, xs);
    c.text(std::clamp(cx - text_width(s, 2) / 2, 0, f.width - text_width(s, 2)), f.bottom + 11, s, 2, kInk);
  }
  for (double k = std::ceil(y.lo / ys - 1e-9); k * ys <= y.hi + ys * 1e-9; k += 1) {
    const int cy = px(row(k * ys, y));
    c.line(f.left - 6, cy, f.left, cy, kInk, 1);
    const std::string s = tick_label(k * ys, ys);
    const int scale = text_width(s, 2) <= f.left - 38 ? 2 : 1;  // right of the y label
    c.text(f.left - 10 - text_width(s, scale), cy - kGlyphHeight * scale / 2, s, scale, kInk);
  }
  const std::string xl = fit(xlabel, f.right - f.left, 2);
  c.text((f.left + f.right - text_width(xl, 2)) / 2, f.bottom + 36, xl, 2, kInk);
  const std::string yl = fit(ylabel, f.bottom - f.top, 2);
  c.text(10, (f.top + f.bottom + text_width(yl, 2)) / 2, yl, 2, kInk, true);
}

struct LegendEntry {
  std::string label;
  Rgb colour;
  double alpha;  // of the swatch fill; its outline is solid
};

// A framed legend in the upper (top) or lower right corner of the data rectangle.
void draw_legend(Canvas& c, const std::vector<LegendEntry>& entries, bool top) {
  const PlotFrame& f = kPlotFrame;
  constexpr int kRow = 22, kPad = 8, kSwatch = 24;
  const int max_text = (f.right - f.left) * 2 / 3;
  int w = 0;
  for (const auto& e : entries) w = std::max(w, text_width(fit(e.label, max_text, 2), 2));
  const int box_w = kPad + kSwatch + 8 + w + kPad,
            box_h = kPad * 2 + kRow * static_cast<int>(entries.size()) - 8;
  const int x0 = f.right - 10 - box_w, y0 = top ? f.top + 10 : f.bottom - 10 - box_h;
  c.unclip();
  c.fill_rect(x0, y0, x0 + box_w, y0 + box_h, kPlotBackground, 0.9);
  c.line(x0, y0, x0 + box_w, y0, kGrey, 1);
  c.line(x0, y0 + box_h, x0 + box_w, y0 + box_h, kGrey, 1);
  c.line(x0, y0, x0, y0 + box_h, kGrey, 1);
  c.line(x0 + box_w, y0, x0 + box_w, y0 + box_h, kGrey, 1);
  for (size_t i = 0; i < entries.size(); ++i) {
    const int y = y0 + kPad + kRow * static_cast<int>(i);
    c.fill_rect(x0 + kPad, y, x0 + kPad + kSwatch, y + 14, entries[i].colour, entries[i].alpha);
    c.line(x0 + kPad, y, x0 + kPad + kSwatch - 1, y, entries[i].colour, 1);
    c.line(x0 + kPad, y + 13, x0 + kPad + kSwatch - 1, y + 13, entries[i].colour, 1);
    c.line(x0 + kPad, y, x0 + kPad, y + 13, entries[i].colour, 1);
    c.line(x0 + kPad + kSwatch - 1, y, x0 + kPad + kSwatch - 1, y + 13, entries[i].colour, 1);
    c.text(x0 + kPad + kSwatch + 8, y, fit(entries[i].label, max_text, 2), 2, kInk);
  }
}

// ---------------------------------------------------------------------------------------------------------
// PNG: zlib stream of one fixed-Huffman deflate block (RFC 1950, 1951), chunks with CRC-32 (RFC 2083).

uint32_t crc32(const std::string& bytes, size_t begin) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = begin; i < bytes.size(); ++i)
    c = table[(c ^ static_cast<uint8_t>(bytes[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t adler32(const std::vector<uint8_t>& data) {
  uint32_t a = 1, b = 0;
  for (uint8_t v : data) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

class BitWriter {
 public:
  void put(uint32_t bits, int n) {  // least significant bit first
    acc_ |= static_cast<uint64_t>(bits) << count_;
    count_ += n;
    while (count_ >= 8) {
      out_.push_back(static_cast<char>(acc_ & 0xFF));
      acc_ >>= 8;
      count_ -= 8;
    }
  }
  void put_code(uint32_t code, int n) {  // Huffman codes go most significant bit first
    uint32_t reversed = 0;
    for (int i = 0; i < n; ++i) reversed = (reversed << 1) | ((code >> i) & 1);
    put(reversed, n);
  }
  std::string finish() {
    if (count_ > 0) out_.push_back(static_cast<char>(acc_ & 0xFF));
    acc_ = 0;
    count_ = 0;
    return std::move(out_);
  }

 private:
  std::string out_;
  uint64_t acc_ = 0;
  int count_ = 0;
};

constexpr int kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr int kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr int kDistanceBase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                   33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                   1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr int kDistanceExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

void put_symbol(BitWriter& w, int symbol) {  // the fixed literal/length code
  if (symbol < 144)
    w.put_code(0x30 + symbol, 8);
  else if (symbol < 256)
    w.put_code(0x190 + symbol - 144, 9);
  else if (symbol < 280)
    w.put_code(symbol - 256, 7);
  else
    w.put_code(0xC0 + symbol - 280, 8);
}

void put_match(BitWriter& w, int length, int distance) {
  int l = 28;
  while (kLengthBase[l] > length) --l;
  put_symbol(w, 257 + l);
  w.put(length - kLengthBase[l], kLengthExtra[l]);
  int d = 29;
  while (kDistanceBase[d] > distance) --d;
  w.put_code(d, 5);
  w.put(distance - kDistanceBase[d], kDistanceExtra[d]);
}

// Greedy matches against the previous byte, the previous pixel and the previous row: enough for plots,
// which are mostly runs and repeated rows.
std::string deflate_fixed(const std::vector<uint8_t>& data, size_t row_bytes) {
  BitWriter w;
  w.put(1, 1);  // BFINAL
  w.put(1, 2);  // BTYPE 01: fixed Huffman codes
  const size_t distances[] = {1, 3, row_bytes};
  for (size_t i = 0; i < data.size();) {
    size_t best_length = 0, best_distance = 0;
    const size_t longest = std::min<size_t>(258, data.size() - i);
    for (size_t d : distances) {
      if (d > i || d > 32768) continue;
      size_t n = 0;
      while (n < longest && data[i + n] == data[i + n - d]) ++n;
      if (n > best_length) best_length = n, best_distance = d;
    }
    if (best_length >= 3) {
      put_match(w, static_cast<int>(best_length), static_cast<int>(best_distance));
      i += best_length;
    } else {
      put_symbol(w, data[i++]);
    }
  }
  put_symbol(w, 256);  // end of block
  return w.finish();
}

void put_chunk(std::string& png, const char* type, const std::string& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  const size_t start = png.size();
  png += type;
  png += data;
  put_be32(png, crc32(png, start));
}

void save(const Canvas& c, const std::string& path) {
  write_file_atomically(path, encode_png(c.width(), c.height(), c.pixels()));
}

}  // namespace

std::string encode_png(int width, int height, const std::vector<uint8_t>& rgb) {
  DISMAX_CHECK(width > 0 && height > 0, "encode_png: image size ", width, " x ", height, " is empty");
  DISMAX_CHECK(rgb.size() == size_t(width) * height * 3, "encode_png: ", rgb.size(), " bytes for a ", width,
               " x ", height, " RGB image");
  const size_t row_bytes = size_t(width) * 3 + 1;
  std::vector<uint8_t> raw;
  raw.reserve(row_bytes * height);
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);  // filter: none
    raw.insert(raw.end(), rgb.begin() + size_t(y) * width * 3, rgb.begin() + size_t(y + 1) * width * 3);
  }
  std::string zlib = "\x78\x01";  // deflate, 32 KiB window, no dictionary; (0x78 * 256 + 0x01) % 31 == 0
  zlib += deflate_fixed(raw, row_bytes);
  put_be32(zlib, adler32(raw));

  std::string header;
  put_be32(header, static_cast<uint32_t>(width));
  put_be32(header, static_cast<uint32_t>(height));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, adaptive filters, no interlace
  std::string png = "\x89PNG\r\n\x1a\n";
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", zlib);
  put_chunk(png, "IEND", "");
  return png;
}

void write_histogram_png(const std::string& path, const std::string& title, const std::string& xlabel,
                         const std::vector<HistogramSeries>& series, int bins) {
  DISMAX_CHECK(!series.empty(), "write_histogram_png: no series for ", path);
  DISMAX_CHECK(bins >= 1, "write_histogram_png: bins must be at least 1, got ", bins);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  DISMAX_CHECK(lo <= hi, "write_histogram_png: no finite value in any series for ", path);
  if (lo == hi) lo -= 0.5, hi += 0.5;
  const double width = (hi - lo) / bins;

  std::vector<std::vector<double>> density(series.size(), std::vector<double>(bins, 0.0));
  std::vector<int64_t> finite(series.size(), 0);
  double top = 0;
  for (size_t k = 0; k < series.size(); ++k) {
    for (double v : series[k].values) {
      if (!std::isfinite(v)) continue;
      const int b = std::min(bins - 1, static_cast<int>((v - lo) / width));  // the last bin is closed
      density[k][b] += 1;
      ++finite[k];
    }
    for (double& d : density[k]) {
      d = finite[k] > 0 ? d / (static_cast<double>(finite[k]) * width) : 0.0;
      top = std::max(top, d);
    }
  }
  const Range x{lo, hi}, y{0.0, top > 0 ? 1.1 * top : 1.0};

  Canvas c(kPlotFrame.width, kPlotFrame.height);
  c.clip(kPlotFrame.left, kPlotFrame.top, kPlotFrame.right, kPlotFrame.bottom);
  const auto edge = [&](int b) { return px(column(b == bins ? hi : lo + b * width, x)); };
  for (size_t k = 0; k < series.size(); ++k) {
    if (finite[k] == 0) continue;
    for (int b = 0; b < bins; ++b)
      c.fill_rect(edge(b), px(row(density[k][b], y)), edge(b + 1), kPlotFrame.bottom, series[k].colour,
                  kHistogramAlpha);
    int previous = kPlotFrame.bottom;  // the outline: a step curve over the bars
    for (int b = 0; b < bins; ++b) {
      const int h = px(row(density[k][b], y));
      c.line(edge(b), previous, edge(b), h, series[k].colour, 1);
      c.line(edge(b), h, edge(b + 1), h, series[k].colour, 1);
      previous = h;
    }
    c.line(edge(bins), previous, edge(bins), kPlotFrame.bottom, series[k].colour, 1);
  }
  draw_axes(c, title, x, y, xlabel, "density");
  std::vector<LegendEntry> legend;
  for (size_t k = 0; k < series.size(); ++k) {
    std::string label = series[k].name + " (n=" + std::to_string(finite[k]);
    const int64_t dropped = static_cast<int64_t>(series[k].values.size()) - finite[k];
    if (dropped > 0) label += ", " + std::to_string(dropped) + " not finite";
    legend.push_back({label + ")", series[k].colour, kHistogramAlpha});
  }
  draw_legend(c, legend, true);
  save(c, path);
}

void write_roc_png(const std::string& path, const std::string& title, const std::vector<RocSeries>& curves) {
  DISMAX_CHECK(!curves.empty(), "write_roc_png: no curves for ", path);
  for (const auto& r : curves)
    DISMAX_CHECK(r.fpr.size() == r.tpr.size() && !r.fpr.empty(), "write_roc_png: curve '", r.name, "' has ",
                 r.fpr.size(), " FPR and ", r.tpr.size(), " TPR values");
  const Range unit{kRocAxisLow, kRocAxisHigh};
  Canvas c(kPlotFrame.width, kPlotFrame.height);
  c.clip(kPlotFrame.left, kPlotFrame.top, kPlotFrame.right, kPlotFrame.bottom);
  c.line(column(0, unit), row(0, unit), column(1, unit), row(1, unit), kGrey, 1, 6);
  std::vector<LegendEntry> legend;
  for (size_t k = 0; k < curves.size(); ++k) {
    const Rgb colour = plot_palette()[k % plot_palette().size()];
    const RocSeries& r = curves[k];
    for (size_t i = 0; i + 1 < r.fpr.size(); ++i)
      c.line(column(r.fpr[i], unit), row(r.tpr[i], unit), column(r.fpr[i + 1], unit), row(r.tpr[i + 1], unit),
             colour, 3);
    char auroc[32];
    std::snprintf(auroc, sizeof auroc, "%.4f", r.auroc);
    legend.push_back({r.name + " (AUROC " + auroc + ")", colour, 1.0});
  }
  draw_axes(c, title, unit, unit, "false positive rate", "true positive rate");
  draw_legend(c, legend, false);
  save(c, path);
}

}  // namespace dismax
