// dismax-aggregate: gathers the results.json files written by dismax-eval (searching the given folders
// recursively) and prints mean ± sample std over runs, one row per (dataset, model, loss), in the layout of
// the paper's Table 2: accuracy, ECE after calibration, and AUROC / AUPR-out per OOD set for the loss's
// recommended score (MPS for SoftMax, ES for IsoMax, MDS for IsoMax+, MMLES for DisMax) or --score. With
// --leaderboard, a second table in the layout of OpenOOD v1.5's leaderboard: one row per (dataset, model,
// loss, method), near-OOD and far-OOD AUROC (the mean over each group's sets, sklearn's AUROC) and the
// in-distribution accuracy, mean ± std over runs.
#include <CLI/CLI.hpp>
#include <new>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/error.h"
#include "engine/io/file.h"
#include "losses/loss_spec.h"
#include "losses/scores.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {

struct Values {
  std::vector<double> v;
  std::string format(double scale, int digits) const {
    if (v.empty()) return "–";
    double mean = 0;
    for (double x : v) mean += x;
    mean /= v.size();
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    const double sd = v.size() > 1 ? std::sqrt(var / (v.size() - 1)) : 0.0;
    char buf[64];
    if (v.size() == 1) std::snprintf(buf, sizeof buf, "%.*f", digits, mean * scale);  // one run: no spread
    else std::snprintf(buf, sizeof buf, "%.*f±%.*f", digits, mean * scale, digits, sd * scale);
    return buf;
  }
};

struct LeaderboardRow {
  int runs = 0;
  Values near, far, accuracy;
};

// The mean of `key` over the sets of `group` for `method`, or NaN when the run has no such group.
double group_mean(const nlohmann::json& j, const std::string& group, const std::string& method, const char* key) {
  if (!j.contains("ood_groups") || !j["ood_groups"].contains(group)) return std::nan("");
  double total = 0;
  int count = 0;
  for (const auto& set : j["ood_groups"][group]) {
    const auto& per_method = j.at("ood").at(set.get<std::string>());
    if (!per_method.contains(method)) return std::nan("");
    total += per_method[method].at(key).get<double>();
    ++count;
  }
  return count > 0 ? total / count : std::nan("");
}

struct Group {
  int runs = 0;
  Values accuracy, ece;
  std::map<std::string, Values> auroc, aupr_out;  // per OOD set
  std::string score;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> roots;
  std::string score_override, out_path;
  CLI::App app{"dismax-aggregate: mean ± std tables (the paper's Table 2 layout) over dismax-eval results.json files"};
  app.add_option("folders", roots, "Folders searched recursively for results.json")->required();
  app.add_option("--score", score_override, "Score to tabulate instead of each loss's recommended one");
  app.add_option("--out", out_path, "Also write the table (Markdown) to this file");
  bool leaderboard = false;
  app.add_flag("--leaderboard", leaderboard, "Also a table per method in OpenOOD's leaderboard layout (near-/far-OOD "
                                             "AUROC, ID accuracy), from runs evaluated with --near-ood/--far-ood");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    std::map<std::tuple<std::string, std::string, std::string>, Group> groups;
    std::set<std::string> ood_sets;
    std::map<std::tuple<std::string, std::string, std::string, std::string>, LeaderboardRow> board;
    int files = 0;
    for (const auto& root : roots) {
      DISMAX_CHECK(fs::exists(root), root, ": no such folder");
      for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file() || entry.path().filename() != "results.json") continue;
        nlohmann::json j;
        try {
          std::ifstream(entry.path()) >> j;
        } catch (const nlohmann::json::exception& e) {
          DISMAX_FAIL(entry.path().string(), ": not valid JSON (", e.what(), ")");
        }
        ++files;
        try {
        const std::string loss = j.value("loss", "?");
        Group& g = groups[{j.value("dataset", "?"), j.value("model", "?"), loss}];
        ++g.runs;
        g.score = score_override.empty() ? score_name(recommended_scores(parse_loss(loss).family).front()) : score_override;
        g.accuracy.v.push_back(j.at("accuracy").get<double>());
        g.ece.v.push_back(j.at("ece").get<double>());
        if (j.contains("ood"))
          for (auto it = j["ood"].begin(); it != j["ood"].end(); ++it) {
            if (!it.value().contains(g.score)) continue;
            ood_sets.insert(it.key());
            g.auroc[it.key()].v.push_back(it.value()[g.score].at("auroc").get<double>());
            g.aupr_out[it.key()].v.push_back(it.value()[g.score].at("aupr_out").get<double>());
          }
        if (leaderboard && j.contains("methods"))
          for (const auto& m : j["methods"]) {
            const std::string method = m.get<std::string>();
            LeaderboardRow& row = board[{j.value("dataset", "?"), j.value("model", "?"), loss, method}];
            ++row.runs;
            row.accuracy.v.push_back(j.at("accuracy").get<double>());
            for (auto [group, values] : {std::pair<const char*, Values*>{"near", &row.near}, {"far", &row.far}}) {
              const double v = group_mean(j, group, method, "sklearn_auroc");
              if (!std::isnan(v)) values->v.push_back(v);
            }
          }
        } catch (const nlohmann::json::exception& e) {
          DISMAX_FAIL(entry.path().string(), ": not a dismax-eval results.json (", e.what(), ")");
        }
      }
    }
    DISMAX_CHECK(files > 0, "no results.json found under the given folders");
    std::ostringstream md;
    md << "| dataset | model | loss [score] | runs | ACC (%) | ECE |";
    for (const auto& s : ood_sets) md << " " << s << " AUROC (%) | " << s << " AUPR-out (%) |";
    md << "\n|---|---|---|---:|---:|---:|";
    for (size_t i = 0; i < ood_sets.size(); ++i) md << "---:|---:|";
    md << "\n";
    for (const auto& [key, g] : groups) {
      md << "| " << std::get<0>(key) << " | " << std::get<1>(key) << " | " << std::get<2>(key) << " [" << g.score
         << "] | " << g.runs << " | " << g.accuracy.format(100, 1) << " | " << g.ece.format(1, 4) << " |";
      for (const auto& s : ood_sets) {
        auto a = g.auroc.find(s), p = g.aupr_out.find(s);
        md << " " << (a == g.auroc.end() ? "–" : a->second.format(100, 1)) << " | "
           << (p == g.aupr_out.end() ? "–" : p->second.format(100, 1)) << " |";
      }
      md << "\n";
    }
    if (leaderboard) {
      md << "\n| dataset | model | loss | method | runs | near-OOD AUROC (%) | far-OOD AUROC (%) | ID ACC (%) |\n"
         << "|---|---|---|---|---:|---:|---:|---:|\n";
      for (const auto& [key, row] : board)
        md << "| " << std::get<0>(key) << " | " << std::get<1>(key) << " | " << std::get<2>(key) << " | "
           << std::get<3>(key) << " | " << row.runs << " | " << row.near.format(100, 2) << " | "
           << row.far.format(100, 2) << " | " << row.accuracy.format(100, 2) << " |\n";
    }
    std::printf("%s", md.str().c_str());
    if (!out_path.empty()) write_file_atomically(out_path, md.str());
    return 0;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory (try a smaller --batch-size, model or dataset)\n", "dismax-aggregate");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dismax-aggregate: error: %s\n", e.what());
    return 1;
  }
}
