#include "datasets/layouts.h"

#include <sstream>
#include <vector>

#include "engine/error.h"

namespace dismax {

namespace fs = std::filesystem;

namespace {

class Finder {
 public:
  explicit Finder(std::string name) : name_(std::move(name)) {}
  bool exists(const fs::path& p) {
    looked_.push_back(p.string());
    std::error_code ec;
    return fs::exists(p, ec);
  }
  bool has_class_folders(const fs::path& p) {
    looked_.push_back((p / "<class>/").string());
    std::error_code ec;
    if (!fs::is_directory(p, ec)) return false;
    for (const auto& e : fs::directory_iterator(p, ec))
      if (e.is_directory(ec)) return true;
    return false;
  }
  // Every file of `files` must exist once the layout is recognised.
  void require_all(const std::vector<std::string>& files) const {
    for (const auto& f : files) {
      std::error_code ec;
      DISMAX_CHECK(fs::exists(f, ec), name_, ": missing file ", f, " (the rest of its folder is there)");
    }
  }
  [[noreturn]] void fail(const std::string& root, const std::string& split) const {
    std::ostringstream os;
    os << name_ << ": no " << split << " split found under " << root << " (looked for:";
    for (const auto& l : looked_) os << " " << l;
    os << ")";
    throw Error(os.str());
  }

 private:
  std::string name_;
  std::vector<std::string> looked_;
};

}  // namespace

std::shared_ptr<const Dataset> open_cifar_layout(const std::string& name, const fs::path& root, const std::string& split,
                                                 const DatasetOptions& options) {
  DISMAX_CHECK(split == "train" || split == "test", name, ": unknown split '", split, "' (train or test)");
  const bool c10 = name == "cifar10";
  const int64_t classes = c10 ? 10 : 100;
  Finder find(name);
  std::vector<std::string> bin_names, py_names;
  if (c10 && split == "train") {
    for (int i = 1; i <= 5; ++i) {
      bin_names.push_back("data_batch_" + std::to_string(i) + ".bin");
      py_names.push_back("data_batch_" + std::to_string(i));
    }
  } else if (c10) {
    bin_names = {"test_batch.bin"};
    py_names = {"test_batch"};
  } else {
    bin_names = {split + ".bin"};
    py_names = {split};
  }
  auto in = [](const fs::path& dir, const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names) out.push_back((dir / n).string());
    return out;
  };
  for (const fs::path& dir : {root / (c10 ? "cifar-10-batches-bin" : "cifar-100-binary"), root}) {
    if (find.exists(dir / bin_names[0])) {
      find.require_all(in(dir, bin_names));
      return read_cifar_binary(in(dir, bin_names), classes, c10 ? 1 : 2, name);
    }
  }
  for (const fs::path& dir : {root / (c10 ? "cifar-10-batches-py" : "cifar-100-python"), root}) {
    if (find.exists(dir / py_names[0]) && fs::is_regular_file(dir / py_names[0])) {
      find.require_all(in(dir, py_names));
      return read_cifar_python(in(dir, py_names), classes, name);
    }
  }
  if (find.has_class_folders(root / split)) {
    auto ds = std::make_shared<ImageFolderDataset>((root / split).string(), options, name);
    DISMAX_CHECK(ds->num_classes() == classes, name, ": ", (root / split).string(), " has ",
                 ds->num_classes(), " class folders, expected ", classes);
    return ds;
  }
  find.fail(root.string(), split);
}

std::shared_ptr<const Dataset> open_idx_layout(const std::string& name, const fs::path& root, const std::string& split,
                                               const DatasetOptions&) {
  DISMAX_CHECK(split == "train" || split == "test", name, ": unknown split '", split, "' (train or test)");
  const std::string prefix = split == "train" ? "train" : "t10k";
  Finder find(name);
  const std::vector<fs::path> dirs = {root, root / "raw",
                                      root / (name == "mnist" ? "MNIST" : "FashionMNIST") / "raw"};
  for (const auto& dir : dirs) {
    for (const std::string ext : {"", ".gz"}) {
      const fs::path images = dir / (prefix + "-images-idx3-ubyte" + ext);
      if (!find.exists(images)) continue;
      fs::path labels = dir / (prefix + "-labels-idx1-ubyte" + ext);
      if (!fs::exists(labels)) labels = dir / (prefix + "-labels-idx1-ubyte" + (ext.empty() ? ".gz" : ""));
      DISMAX_CHECK(fs::exists(labels), name, ": found ", images.string(), " but not its labels ",
                   (dir / (prefix + "-labels-idx1-ubyte" + ext)).string());
      return read_idx(images.string(), labels.string(), 10, name);
    }
  }
  find.fail(root.string(), split);
}


std::shared_ptr<const Dataset> open_svhn_layout(const std::string& name, const fs::path& root, const std::string& split,
                                                const DatasetOptions&) {
  DISMAX_CHECK(split == "train" || split == "test" || split == "extra", name, ": unknown split '", split,
               "' (train, test or extra)");
  Finder find(name);
  for (const fs::path& dir : {root, root / "svhn"})
    if (find.exists(dir / (split + "_32x32.mat"))) return read_svhn_mat((dir / (split + "_32x32.mat")).string());
  find.fail(root.string(), split);
}

std::shared_ptr<const Dataset> open_imagenet_layout(const std::string& name, const fs::path& root,
                                                    const std::string& split, const DatasetOptions& options) {
  DISMAX_CHECK(split == "train" || split == "val" || split == "test", name, ": unknown split '", split,
               "' (train, or val / test for the validation images)");
  const fs::path dir = root / (split == "train" ? "train" : "val");
  Finder find(name);
  if (!find.has_class_folders(dir)) find.fail(root.string(), split);
  return std::make_shared<ImageFolderDataset>(dir.string(), options, name);
}

std::shared_ptr<const Dataset> open_folder_layout(const std::string& name, const fs::path& root,
                                                  const std::string& split, const DatasetOptions& options) {
  std::error_code ec;
  const fs::path dir = !split.empty() && fs::is_directory(root / split, ec) ? root / split : root;
  return std::make_shared<ImageFolderDataset>(dir.string(), options, name);
}

}  // namespace dismax
