// PNG plots with no external library, for dismax-eval: overlaid histograms of in- and out-of-distribution
// scores, and ROC curves. Drawn on an RGB raster with a built-in 5x7 bitmap font (printable ASCII; other
// characters show as '?') and written as an 8-bit RGB PNG whose zlib stream is one fixed-Huffman deflate
// block (run and previous-row matches), with CRC-32 and Adler-32 computed here. Files are written
// atomically: a temporary file in the same folder, renamed over `path`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dismax {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

// Six distinguishable colours (blue, orange, green, red, purple, brown); ROC curve k uses entry k % 6.
const std::vector<Rgb>& plot_palette();

// Geometry of both plots in pixels: the image size and the data rectangle inside the axes. A value v on an
// axis running from lo to hi lands on column left + (v - lo) / (hi - lo) * (right - left), and on row
// bottom - (v - lo) / (hi - lo) * (bottom - top), both rounded to the nearest pixel.
struct PlotFrame {
  int width, height;
  int left, top, right, bottom;
};
constexpr PlotFrame kPlotFrame{800, 600, 110, 56, 770, 520};
constexpr Rgb kPlotBackground{255, 255, 255};
// Histogram bars are blended over what is below them: out = alpha * colour + (1 - alpha) * below.
constexpr double kHistogramAlpha = 0.45;

struct HistogramSeries {
  std::string name;
  std::vector<double> values;
  Rgb colour;
};

// Overlaid density histograms (each series' bars integrate to 1) with `bins` equal-width bins spanning
// [min, max] of all finite values of all series (x axis exactly that range; a single value v spans
// [v - 0.5, v + 0.5]); the y axis runs from 0 to 1.1 times the highest bar. Non-finite values are left out
// and counted in the legend, which reads "name (n=count)". Throws when there is no finite value at all.
void write_histogram_png(const std::string& path, const std::string& title, const std::string& xlabel,
                         const std::vector<HistogramSeries>& series, int bins = 50);

struct RocSeries {
  std::string name;
  std::vector<double> fpr, tpr;  // points in drawing order, as roc_curve returns them
  double auroc = 0;              // shown in the legend: "name (AUROC 0.9512)"
};

// ROC curves (false positive rate across, true positive rate up) over the dashed chance diagonal, curve k in
// plot_palette()[k % 6] and 3 pixels wide, legend in the lower right. Both axes run from kRocAxisLow to
// kRocAxisHigh so that curves along 0 and 1 stay clear of the frame.
constexpr double kRocAxisLow = -0.02, kRocAxisHigh = 1.02;
void write_roc_png(const std::string& path, const std::string& title, const std::vector<RocSeries>& curves);

// The PNG file bytes of an 8-bit RGB image; rgb holds (height, width, 3) row-major.
std::string encode_png(int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace dismax
