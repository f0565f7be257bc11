#include "datasets/image_list.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "engine/error.h"
#include "engine/io/file.h"

namespace dismax {

namespace fs = std::filesystem;

ImageListDataset::ImageListDataset(const std::string& list, const std::string& image_root, int64_t num_classes,
                                   std::string name, DatasetOptions options)
    : list_(list), root_(image_root), name_(std::move(name)), num_classes_(num_classes), options_(options) {
  std::error_code ec;
  DISMAX_CHECK(fs::is_directory(image_root, ec), name_, ": image folder ", image_root,
               " (of the image list ", list, ") does not exist");
  std::istringstream lines(read_whole_file(list, "image list"));
  int64_t line_number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const size_t space = line.find(' ');
    const std::string path = line.substr(0, space);
    bool relative = !path.empty() && path[0] != '/';
    for (const auto& part : fs::path(path)) relative &= part != "..";
    DISMAX_CHECK(relative, list, ", line ", line_number, ": '", path, "' is not a path inside the image folder");
    int64_t label = -1;
    if (space != std::string::npos) {
      const std::string rest = line.substr(space + 1);
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(rest.c_str(), &end, 10);
      const bool whole = end != rest.c_str() && (*end == '\0' || *end == ' ' || *end == '\t');
      if (whole && errno == 0 && v >= 0 && v < num_classes) label = v;
    }
    DISMAX_CHECK(num_classes == 0 || label >= 0, list, ", line ", line_number, ": no label in [0, ", num_classes,
                 ") for an in-distribution image");
    files_.push_back(path);
    labels_.push_back(label);
  }
  DISMAX_CHECK(!files_.empty(), name_, ": the image list ", list, " lists no image");
  warned_ = std::make_unique<std::atomic<bool>[]>(files_.size());
}

int64_t ImageListDataset::label(int64_t index) const {
  DISMAX_CHECK(index >= 0 && index < size(), name_, ": index ", index, " out of range [0, ", size(), ")");
  return labels_[index];
}

std::string ImageListDataset::source(int64_t index) const {
  DISMAX_CHECK(index >= 0 && index < size(), name_, ": index ", index, " out of range [0, ", size(), ")");
  return (fs::path(root_) / files_[index]).string();
}

Example ImageListDataset::get(int64_t index) const {
  Example ex;
  ex.label = labels_[index];
  ex.image = detail::read_image_or_skip(source(index), options_.skip_unreadable, warned_[index]);
  return ex;
}

std::string ImageListDataset::describe() const {
  return detail::concat(name_, ": ", size(), " images listed in ", list_, " under ", root_);
}

}  // namespace dismax
