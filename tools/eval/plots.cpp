#include <filesystem>

#include "tools/eval/report.h"
#include "tools/plot.h"

namespace dismax {

std::vector<std::string> write_plots(const ReportInput& in, const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  std::vector<std::string> written;
  const auto& palette = plot_palette();
  for (const std::string& s : in.recommended) {
    size_t k = 0;
    while (k < in.methods.size() && in.methods[k] != s) ++k;
    if (k == in.methods.size()) continue;
    std::vector<RocSeries> curves;
    for (const auto& o : in.ood) {
      const std::vector<double>& a = in.in_scores[k];
      const std::vector<double>& b = o.out_scores[k];
      const std::string hist = (folder / ("hist_" + o.name + "_" + s + ".png")).string();
      write_histogram_png(hist, in.model + " " + in.loss + ": " + s + " scores", s + " (higher = in-distribution)",
                          {{in.dataset + " (in)", a, palette[0]}, {o.name + " (out)", b, palette[1]}});
      written.push_back(hist);
      const RocCurve roc = roc_curve(a, b);
      curves.push_back({o.name, roc.fpr, roc.tpr, o.metrics[k].sklearn_auroc});
    }
    if (curves.empty()) continue;
    const std::string path = (folder / ("roc_" + s + ".png")).string();
    write_roc_png(path, in.model + " " + in.loss + " on " + in.dataset + ": " + s + " (in-distribution positive)", curves);
    written.push_back(path);
  }
  return written;
}

}  // namespace dismax
