#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>

#include "datasets/dataset.h"
#include "engine/error.h"

namespace dismax {

namespace fs = std::filesystem;

namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
    if (ext == e) return true;
  return false;
}

std::mutex warn_mutex;  // keeps warning lines whole

// Image files under `dir`, recursively, ordered like torchvision: by directory path, then by file name.
void list_images(const fs::path& dir, const fs::path& root, std::vector<std::string>& out) {
  std::vector<std::pair<std::string, std::string>> found;  // (directory, name)
  std::error_code ec;
  // Symlinked folders are followed, each real folder once: a link back up the tree (a loop) or a second
  // link to one folder would otherwise list the same images many times over.
  std::set<fs::path> visited{fs::weakly_canonical(dir, ec)};
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) {
      std::error_code canonical_ec;
      const fs::path real = fs::weakly_canonical(it->path(), canonical_ec);
      if (!canonical_ec && !visited.insert(real).second) {
        std::lock_guard<std::mutex> lock(warn_mutex);
        std::cerr << "dismax: warning: " << it->path().string() << " leads to " << real.string()
                  << ", already listed (a symlink loop or a second link): not followed\n";
        it.disable_recursion_pending();
      }
      continue;
    }
    if (it->is_regular_file(ec) && has_image_extension(it->path()))
      found.push_back({it->path().parent_path().string(), it->path().filename().string()});
  }
  DISMAX_CHECK(!ec, "cannot list image folder ", dir.string(), ": ", ec.message());
  std::sort(found.begin(), found.end());
  for (const auto& [d, f] : found) out.push_back(fs::path(d).lexically_relative(root).append(f).string());
}

}  // namespace

ImageFolderDataset::ImageFolderDataset(const std::string& root, DatasetOptions options, std::string name)
    : root_(root), name_(std::move(name)), options_(options) {
  std::error_code ec;
  DISMAX_CHECK(fs::is_directory(root, ec), name_, ": image folder ", root,
               " does not exist or is not a folder");
  DISMAX_CHECK(image_decoding_available(), "dismax was built without OpenCV; image folders need it (", root,
               ")");
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory(ec)) dirs.push_back(e.path().filename().string());
  DISMAX_CHECK(!ec, "cannot list image folder ", root, ": ", ec.message());
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty()) {  // a flat folder: one class
    classes_ = {"."};
    for (const auto& e : fs::directory_iterator(root, ec))
      if (e.is_regular_file(ec) && has_image_extension(e.path()))
        files_.push_back(e.path().filename().string());
    std::sort(files_.begin(), files_.end());
    labels_.assign(files_.size(), 0);
  } else {
    classes_ = dirs;
    for (size_t k = 0; k < dirs.size(); ++k) {
      list_images(fs::path(root) / dirs[k], fs::path(root), files_);
      labels_.resize(files_.size(), static_cast<int64_t>(k));
    }
  }
  if (options_.skip_unreadable) warned_ = std::make_unique<std::atomic<bool>[]>(files_.size());
  DISMAX_CHECK(
      !files_.empty(), name_, ": no images in ", root,
      " (looked for .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp files in its class sub-folders, or in"
      " the folder itself when it has no sub-folders)");
}

std::string ImageFolderDataset::path(int64_t index) const {
  DISMAX_CHECK(index >= 0 && index < size(), name_, ": index ", index, " out of range [0, ", size(), ")");
  return (fs::path(root_) / files_[index]).string();
}

int64_t ImageFolderDataset::label(int64_t index) const {
  DISMAX_CHECK(index >= 0 && index < size(), name_, ": index ", index, " out of range [0, ", size(), ")");
  return labels_[index];
}

namespace detail {
Image read_image_or_skip(const std::string& path, bool skip, std::atomic<bool>& warned, std::atomic<int64_t>* skipped) {
  if (!skip) return read_image(path);
  try {
    return read_image(path);
  } catch (const Error& e) {
    if (!warned.exchange(true)) {
      if (skipped) ++*skipped;
      std::lock_guard<std::mutex> lock(warn_mutex);
      std::cerr << "dismax: warning: skipping unreadable image: " << e.what() << "\n";
    }
  }
  return Image();
}
}  // namespace detail

Example ImageFolderDataset::get(int64_t index) const {
  Example ex;
  ex.label = labels_[index];
  ex.image = detail::read_image_or_skip(path(index), options_.skip_unreadable, warned_[index], &skipped_);
  return ex;
}

std::string ImageFolderDataset::describe() const {
  return detail::concat(
      name_, ": ", size(), " images in ", num_classes(),
      classes_.size() == 1 && classes_[0] == "." ? " class (flat folder) at " : " class folders at ", root_);
}

}  // namespace dismax
