// Image lists in OpenOOD's format (benchmark_imglist/<id>/<split>_<set>.txt): one image a line, a path
// relative to an image folder, a space, then the label (-1 or anything else for OOD sets: read as -1 when
// it is not an integer in [0, classes)). Blank lines are skipped. Images decode as in an image folder.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace dismax {

class ImageListDataset : public Dataset {
 public:
  // `list` names the file, `image_root` the folder its paths are relative to; `num_classes` is the
  // in-distribution class count (0 for an OOD list). Throws naming the list and the line at fault; a listed
  // image that does not exist is reported when first read (or skipped with options.skip_unreadable).
  ImageListDataset(const std::string& list, const std::string& image_root, int64_t num_classes, std::string name,
                   DatasetOptions options = {});
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int64_t num_classes() const override { return num_classes_; }
  Example get(int64_t index) const override;
  int64_t label(int64_t index) const override;
  std::string source(int64_t index) const override;
  std::string name() const override { return name_; }
  std::string describe() const override;

 private:
  std::string list_, root_, name_;
  int64_t num_classes_;
  DatasetOptions options_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  std::unique_ptr<std::atomic<bool>[]> warned_;  // per file, with skip_unreadable
};

}  // namespace dismax
