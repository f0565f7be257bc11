#include "datasets/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "engine/error.h"
#include "engine/generator.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace dismax {

namespace fs = std::filesystem;

std::string Dataset::source(int64_t index) const { return detail::concat(name(), " example ", index); }

std::string Dataset::describe() const {
  return detail::concat(name(), ": ", size(), " examples, ", num_classes(), " classes");
}

// ---- ArrayDataset

ArrayDataset::ArrayDataset(std::string name, std::string origin, int64_t num_classes, int height, int width,
                           int channels, std::vector<uint8_t> pixels, std::vector<int64_t> labels)
    : name_(std::move(name)),
      origin_(std::move(origin)),
      num_classes_(num_classes),
      height_(height),
      width_(width),
      channels_(channels),
      pixels_(std::move(pixels)),
      labels_(std::move(labels)) {
  DISMAX_CHECK(channels == 1 || channels == 3, origin_, ": images must have 1 or 3 channels, not ", channels);
  DISMAX_CHECK(pixels_.size() == labels_.size() * height * width * channels, origin_, ": ", pixels_.size(),
               " pixel bytes for ", labels_.size(), " images of ", height, "x", width, "x", channels);
}

Example ArrayDataset::get(int64_t index) const {
  DISMAX_CHECK(index >= 0 && index < size(), name_, ": index ", index, " out of range [0, ", size(), ")");
  Example ex;
  ex.image = Image(width_, height_, channels_);
  const size_t n = ex.image.pixels.size();
  std::memcpy(ex.image.pixels.data(), pixels_.data() + static_cast<size_t>(index) * n, n);
  ex.label = labels_[index];
  return ex;
}

int64_t ArrayDataset::label(int64_t index) const {
  DISMAX_CHECK(index >= 0 && index < size(), name_, ": index ", index, " out of range [0, ", size(), ")");
  return labels_[index];
}

std::string ArrayDataset::source(int64_t index) const { return detail::concat(origin_, ", image ", index); }

std::string ArrayDataset::describe() const {
  return detail::concat(name_, ": ", size(), " images ", height_, "x", width_, "x", channels_, ", ",
                        num_classes_, " classes, from ", origin_);
}

// ---- SubsetDataset

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices,
                             std::string what)
    : base_(std::move(base)), indices_(std::move(indices)), what_(std::move(what)) {
  DISMAX_CHECK(base_ != nullptr, "SubsetDataset: no base dataset");
  for (int64_t i : indices_)
    DISMAX_CHECK(i >= 0 && i < base_->size(), "SubsetDataset: index ", i, " out of range for ",
                 base_->describe());
}

int64_t SubsetDataset::base_index(int64_t index) const {
  DISMAX_CHECK(index >= 0 && index < size(), name(), " ", what_, ": index ", index, " out of range [0, ",
               size(), ")");
  return indices_[index];
}
Example SubsetDataset::get(int64_t index) const { return base_->get(base_index(index)); }
int64_t SubsetDataset::label(int64_t index) const { return base_->label(base_index(index)); }
std::string SubsetDataset::source(int64_t index) const { return base_->source(base_index(index)); }
std::string SubsetDataset::describe() const {
  return detail::concat(what_, " of ", size(), " examples of [", base_->describe(), "]");
}

// ---- ClassSubsetDataset

namespace {
// Base label -> rank among `classes`, -1 for the others; throws naming a class out of range or repeated.
std::vector<int64_t> class_remap(const Dataset& base, std::vector<int64_t> classes) {
  DISMAX_CHECK(!classes.empty(), "--classes: no class given");
  std::sort(classes.begin(), classes.end());
  const int64_t total = base.num_classes();
  std::vector<int64_t> remap(static_cast<size_t>(total), -1);
  for (size_t i = 0; i < classes.size(); ++i) {
    DISMAX_CHECK(classes[i] >= 0 && classes[i] < total, "--classes: class ", classes[i], " is not in [0, ", total,
                 ") of ", base.describe());
    DISMAX_CHECK(i == 0 || classes[i] != classes[i - 1], "--classes: class ", classes[i], " is given twice");
    remap[classes[i]] = static_cast<int64_t>(i);
  }
  return remap;
}

std::vector<int64_t> members(const Dataset& base, const std::vector<int64_t>& remap) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < base.size(); ++i) {
    const int64_t label = base.label(i);
    if (label >= 0 && label < static_cast<int64_t>(remap.size()) && remap[label] >= 0) indices.push_back(i);
  }
  return indices;
}

std::string class_list(std::vector<int64_t> classes) {
  std::sort(classes.begin(), classes.end());
  std::string list;
  for (int64_t c : classes) list += (list.empty() ? "" : ",") + std::to_string(c);
  return "classes " + list;
}
}  // namespace

ClassSubsetDataset::ClassSubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> classes)
    : ClassSubsetDataset(base, classes, base ? class_remap(*base, classes) : std::vector<int64_t>{}) {}

ClassSubsetDataset::ClassSubsetDataset(std::shared_ptr<const Dataset> base, const std::vector<int64_t>& classes,
                                       std::vector<int64_t> remap)
    : SubsetDataset(base, base ? members(*base, remap) : std::vector<int64_t>{}, class_list(classes)),
      classes_(static_cast<int64_t>(classes.size())),
      remap_(std::move(remap)) {}

Example ClassSubsetDataset::get(int64_t index) const {
  Example ex = SubsetDataset::get(index);
  ex.label = remap_[ex.label];
  return ex;
}
int64_t ClassSubsetDataset::label(int64_t index) const { return remap_[SubsetDataset::label(index)]; }

// ---- split

std::pair<std::shared_ptr<const Dataset>, std::shared_ptr<const Dataset>> split_train_validation(
    std::shared_ptr<const Dataset> dataset, double validation, uint64_t seed, bool stratified) {
  DISMAX_CHECK(dataset != nullptr, "split_train_validation: no dataset");
  const int64_t n = dataset->size();
  DISMAX_CHECK(validation > 0,
               "split_train_validation: validation must be a fraction in (0, 1) or a count >= 1, got ",
               validation);
  const int64_t k =
      validation < 1 ? std::llround(validation * static_cast<double>(n)) : static_cast<int64_t>(validation);
  DISMAX_CHECK(k >= 1 && k < n, "split_train_validation: a validation part of ", k, " examples out of ", n,
               " leaves one side empty (", dataset->describe(), ")");
  std::vector<char> in_validation(n, 0);
  if (!stratified) {
    Generator gen(seed);
    const Tensor perm = randperm(n, gen);
    const int64_t* p = perm.data<int64_t>();
    for (int64_t i = 0; i < k; ++i) in_validation[p[i]] = 1;
  } else {
    std::map<int64_t, std::vector<int64_t>> by_class;
    for (int64_t i = 0; i < n; ++i) by_class[dataset->label(i)].push_back(i);
    // Largest-remainder apportionment of k over the classes, ties to the smaller label.
    std::vector<std::pair<double, int64_t>> remainders;
    std::map<int64_t, int64_t> take;
    int64_t assigned = 0;
    for (const auto& [c, members] : by_class) {
      const double exact =
          static_cast<double>(k) * static_cast<double>(members.size()) / static_cast<double>(n);
      take[c] = static_cast<int64_t>(std::floor(exact));
      assigned += take[c];
      remainders.push_back({exact - std::floor(exact), c});
    }
    std::stable_sort(remainders.begin(), remainders.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t r = 0; assigned < k && r < remainders.size(); ++r, ++assigned) ++take[remainders[r].second];
    for (const auto& [c, members] : by_class) {
      Generator gen(seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(c + 1)));
      const Tensor perm = randperm(static_cast<int64_t>(members.size()), gen);
      const int64_t* p = perm.data<int64_t>();
      for (int64_t i = 0; i < take[c]; ++i) in_validation[members[p[i]]] = 1;
    }
  }
  std::vector<int64_t> train, valid;
  for (int64_t i = 0; i < n; ++i) (in_validation[i] ? valid : train).push_back(i);
  return {std::make_shared<SubsetDataset>(dataset, std::move(train), "training part"),
          std::make_shared<SubsetDataset>(dataset, std::move(valid), "validation part")};
}

}  // namespace dismax
