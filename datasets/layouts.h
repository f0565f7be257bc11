// The official on-disk layouts of the named datasets: where each one's files are found for a split, and
// which reader reads them. Each throws naming every path it looked for when nothing is found. The table
// that says which dataset uses which layout is datasets/registry.h.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "datasets/dataset.h"

namespace dismax {

using LayoutOpener = std::shared_ptr<const Dataset> (*)(const std::string& name, const std::filesystem::path& root,
                                                        const std::string& split, const DatasetOptions& options);

// cifar10 / cifar100 (by name): binary batches (cifar-10-batches-bin, cifar-100-binary), python pickles
// (cifar-10-batches-py, cifar-100-python), either directly under root too, or class folders root/<split>/.
std::shared_ptr<const Dataset> open_cifar_layout(const std::string& name, const std::filesystem::path& root,
                                                 const std::string& split, const DatasetOptions& options);
// mnist / fashion-mnist: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] under root, root/raw or
// root/{MNIST,FashionMNIST}/raw.
std::shared_ptr<const Dataset> open_idx_layout(const std::string& name, const std::filesystem::path& root,
                                               const std::string& split, const DatasetOptions& options);
// svhn: <split>_32x32.mat under root or root/svhn (train, test, extra).
std::shared_ptr<const Dataset> open_svhn_layout(const std::string& name, const std::filesystem::path& root,
                                                const std::string& split, const DatasetOptions& options);
// imagenet: class folders under root/train and root/val ("test" reads val).
std::shared_ptr<const Dataset> open_imagenet_layout(const std::string& name, const std::filesystem::path& root,
                                                    const std::string& split, const DatasetOptions& options);
// folder: root/<split> when that is a folder, else root itself.
std::shared_ptr<const Dataset> open_folder_layout(const std::string& name, const std::filesystem::path& root,
                                                  const std::string& split, const DatasetOptions& options);

}  // namespace dismax
