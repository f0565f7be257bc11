// Datasets: indexed collections of (image, label) examples. Small formats (CIFAR, SVHN, IDX) are read
// whole into memory at construction; image folders list their files at construction and decode in get().
// The named datasets (cifar10, ..., folder) and how to open them are datasets/registry.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "datasets/image.h"

namespace dismax {

struct Example {
  Image image;  // empty when an unreadable file was skipped (DatasetOptions::skip_unreadable)
  int64_t label = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  // The i-th example, 0 <= i < size(). Thread-safe. Throws dismax::Error naming the file at fault.
  virtual Example get(int64_t index) const = 0;
  // The i-th label without decoding the image.
  virtual int64_t label(int64_t index) const { return get(index).label; }
  // Where the i-th example comes from, for messages: a path, or "file, record i".
  virtual std::string source(int64_t index) const;
  // The dataset name (cifar10, ..., folder) and one line about it (split, size, classes, files).
  virtual std::string name() const = 0;
  virtual std::string describe() const;
};

// Images of one size held in memory (N, H, W, C) uint8, with their labels.
class ArrayDataset : public Dataset {
 public:
  ArrayDataset(std::string name, std::string origin, int64_t num_classes, int height, int width, int channels,
               std::vector<uint8_t> pixels, std::vector<int64_t> labels);
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t num_classes() const override { return num_classes_; }
  Example get(int64_t index) const override;
  int64_t label(int64_t index) const override;
  std::string source(int64_t index) const override;
  std::string name() const override { return name_; }
  std::string describe() const override;
  int height() const { return height_; }
  int width() const { return width_; }
  int channels() const { return channels_; }

 private:
  std::string name_, origin_;
  int64_t num_classes_;
  int height_, width_, channels_;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
};

struct DatasetOptions {
  // Image folders: an unreadable or corrupt file gives a warning (once per file) and an empty example that
  // the DataLoader leaves out of its batch (and counts), instead of an error.
  bool skip_unreadable = false;
};

// Class sub-folders of images (class index = rank of the folder name in byte order, files sorted, sub-folders
// walked recursively, like torchvision's ImageFolder), or a flat folder of images (one class, label 0).
// Extensions: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp, any case. Images decode to RGB.
class ImageFolderDataset : public Dataset {
 public:
  explicit ImageFolderDataset(const std::string& root, DatasetOptions options = {},
                              std::string name = "folder");
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  Example get(int64_t index) const override;
  int64_t label(int64_t index) const override;
  std::string source(int64_t index) const override { return path(index); }
  std::string name() const override { return name_; }
  std::string describe() const override;
  const std::vector<std::string>& classes() const { return classes_; }
  std::string path(int64_t index) const;
  int64_t skipped() const { return skipped_.load(); }  // distinct unreadable files met (skip_unreadable)

 private:
  std::string root_, name_;
  DatasetOptions options_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;  // relative to root_
  std::vector<int64_t> labels_;
  mutable std::atomic<int64_t> skipped_{0};
  std::unique_ptr<std::atomic<bool>[]> warned_;  // per file, with skip_unreadable
};

// The examples of `base` at `indices`, in that order.
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices,
                std::string what = "subset");
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t num_classes() const override { return base_->num_classes(); }
  Example get(int64_t index) const override;
  int64_t label(int64_t index) const override;
  std::string source(int64_t index) const override;
  std::string name() const override { return base_->name(); }
  std::string describe() const override;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  int64_t base_index(int64_t index) const;
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
  std::string what_;
};

namespace detail {
// Reads `path`; with `skip`, an unreadable file gives an empty image, one warning while `warned` is unset
// and a count in `skipped` (image folders and image lists share it).
Image read_image_or_skip(const std::string& path, bool skip, std::atomic<bool>& warned,
                         std::atomic<int64_t>* skipped = nullptr);
}  // namespace detail

// ---- readers of the official formats (each names the file at fault when it is missing, truncated or wrong)

// CIFAR binary batches: records of <label byte(s)><3072 bytes R,G,B planes>. CIFAR-10: 1 label byte;
// CIFAR-100 (label_bytes = 2): coarse then fine, the fine label is used.
std::shared_ptr<ArrayDataset> read_cifar_binary(const std::vector<std::string>& files, int64_t num_classes,
                                                int label_bytes, const std::string& name);
// CIFAR python pickles (cifar-10-batches-py, cifar-100-python; "labels" or "fine_labels").
std::shared_ptr<ArrayDataset> read_cifar_python(const std::vector<std::string>& files, int64_t num_classes,
                                                const std::string& name);
// SVHN train_32x32.mat / test_32x32.mat: X (32, 32, 3, N) uint8, y (N, 1), label 10 means digit 0.
std::shared_ptr<ArrayDataset> read_svhn_mat(const std::string& path);
// IDX images (magic 0x00000803, N x H x W uint8) and labels (0x00000801), gzipped or not.
std::shared_ptr<ArrayDataset> read_idx(const std::string& images_path, const std::string& labels_path,
                                       int64_t num_classes, const std::string& name);

// The examples of `base` whose label is one of `classes` (distinct, each in [0, base classes)), relabelled
// by rank among them: the classic open-set split (train on some classes, the others are near-OOD).
class ClassSubsetDataset : public SubsetDataset {
 public:
  ClassSubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> classes);
  int64_t num_classes() const override { return classes_; }
  Example get(int64_t index) const override;
  int64_t label(int64_t index) const override;

 private:
  ClassSubsetDataset(std::shared_ptr<const Dataset> base, const std::vector<int64_t>& classes,
                     std::vector<int64_t> remap);
  int64_t classes_;
  std::vector<int64_t> remap_;  // base label -> new label, -1 when left out
};

// A deterministic held-out split of `dataset`: `validation` in (0, 1) is a fraction, >= 1 a count of
// examples. Chosen by a permutation from `seed` (per class when `stratified`); both parts keep the
// original order. Returns {train, validation}.
std::pair<std::shared_ptr<const Dataset>, std::shared_ptr<const Dataset>> split_train_validation(
    std::shared_ptr<const Dataset> dataset, double validation, uint64_t seed, bool stratified = false);

}  // namespace dismax
