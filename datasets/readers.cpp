// Readers of the in-memory formats: CIFAR binary and python batches, SVHN .mat, IDX (MNIST-style).
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "datasets/dataset.h"
#include "engine/io/file.h"
#include "datasets/mat_file.h"
#include "engine/io/pickle.h"
#include "engine/error.h"
#include "engine/shape.h"

namespace dismax {

namespace {

// The whole file, gunzipped when it is gzip data (zlib reads plain files as they are).
std::vector<uint8_t> read_maybe_gzipped(const std::string& path) {
  std::error_code ec;
  DISMAX_CHECK(std::filesystem::is_regular_file(path, ec), "cannot open IDX file ", path);
  gzFile f = gzopen(path.c_str(), "rb");
  DISMAX_CHECK(f != nullptr, "cannot open IDX file ", path);
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      gzclose(f);
      DISMAX_FAIL("truncated or corrupt gzip data in ", path, " (zlib: ", msg, ")");
    }
    if (n == 0) break;
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  gzclose(f);
  return out;
}

// Checks the IDX header (magic 0, 0, 0x08 = uint8, rank) and size; returns the dimensions.
std::vector<int64_t> idx_dims(const std::vector<uint8_t>& b, int rank, const std::string& path) {
  DISMAX_CHECK(b.size() >= 4, path, ": not an IDX file (", b.size(), " bytes)");
  const uint32_t magic = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  DISMAX_CHECK(b[0] == 0 && b[1] == 0, path, ": not an IDX file (magic number 0x", std::hex, magic, ")");
  DISMAX_CHECK(b[2] == 0x08, path, ": IDX data type 0x", std::hex, int{b[2]}, std::dec,
               " is not uint8 (0x08)");
  DISMAX_CHECK(b[3] == rank, path, ": IDX file of rank ", int{b[3]}, ", expected ", rank, " (magic 0x",
               std::hex, magic, ", expected 0x", 0x800 + rank, ")");
  DISMAX_CHECK(b.size() >= 4 + 4 * static_cast<size_t>(rank), path, ": truncated IDX header");
  std::vector<int64_t> dims;
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    const uint8_t* p = &b[4 + 4 * i];
    dims.push_back(int64_t{p[0]} << 24 | int64_t{p[1]} << 16 | int64_t{p[2]} << 8 | p[3]);
    // The product of 32-bit sizes overflows int64 within three dims: a size check after it would pass.
    DISMAX_CHECK(!__builtin_mul_overflow(n, dims.back(), &n) && n <= (int64_t{1} << 48), path,
                 ": IDX header claims an impossible size (dims ", shape_str(dims), ")");
  }
  const size_t expected = 4 + 4 * static_cast<size_t>(rank) + static_cast<size_t>(n);
  DISMAX_CHECK(b.size() >= expected, path, ": truncated IDX file (", b.size(), " bytes, its header needs ",
               expected, ")");
  return dims;
}

// (N, 3072) channel-planar R, G, B rows to (N, 32, 32, 3).
void planar_to_hwc(const uint8_t* planar, uint8_t* hwc) {
  for (int p = 0; p < 1024; ++p)
    for (int c = 0; c < 3; ++c) hwc[3 * p + c] = planar[c * 1024 + p];
}

std::string files_origin(const std::vector<std::string>& files) {
  if (files.size() == 1) return files[0];
  return detail::concat(std::filesystem::path(files[0]).parent_path().string(), " (", files.size(),
                        " files)");
}

}  // namespace

std::shared_ptr<ArrayDataset> read_cifar_binary(const std::vector<std::string>& files, int64_t num_classes,
                                                int label_bytes, const std::string& name) {
  DISMAX_CHECK(!files.empty(), name, ": no CIFAR batch files given");
  const size_t record = static_cast<size_t>(label_bytes) + 3072;
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (const auto& path : files) {
    const std::string bytes = read_whole_file(path, "CIFAR batch");
    DISMAX_CHECK(!bytes.empty() && bytes.size() % record == 0, path, ": truncated or not a ", name,
                 " binary batch (", bytes.size(), " bytes is not a whole number of ", record,
                 "-byte records)");
    const size_t n = bytes.size() / record;
    const size_t base = labels.size();
    pixels.resize((base + n) * 3072);
    for (size_t i = 0; i < n; ++i) {
      const auto* rec = reinterpret_cast<const uint8_t*>(bytes.data()) + i * record;
      const int64_t label = rec[label_bytes - 1];
      DISMAX_CHECK(label < num_classes, path, ": label ", label, " of record ", i, " is not below ",
                   num_classes, " (wrong dataset or corrupt file)");
      labels.push_back(label);
      planar_to_hwc(rec + label_bytes, &pixels[(base + i) * 3072]);
    }
  }
  return std::make_shared<ArrayDataset>(name, files_origin(files), num_classes, 32, 32, 3, std::move(pixels),
                                        std::move(labels));
}

std::shared_ptr<ArrayDataset> read_cifar_python(const std::vector<std::string>& files, int64_t num_classes,
                                                const std::string& name) {
  DISMAX_CHECK(!files.empty(), name, ": no CIFAR batch files given");
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (const auto& path : files) {
    const pickle::ValuePtr root = pickle::load(read_whole_file(path, "CIFAR batch"), path);
    DISMAX_CHECK(root->kind == pickle::Value::Kind::Dict, path,
                 ": the pickle is not a dict (not a CIFAR batch)");
    const pickle::ValuePtr* data = root->find("data");
    const pickle::ValuePtr* lab = root->find("fine_labels");
    if (!lab) lab = root->find("labels");
    DISMAX_CHECK(data && lab, path,
                 ": the pickled dict lacks 'data' or 'labels'/'fine_labels' (not a CIFAR batch)");
    const pickle::NumpyBytes array = pickle::as_uint8_array(**data, path);
    const std::vector<int64_t> l = pickle::as_int_list(**lab, path);
    DISMAX_CHECK(
        array.shape.size() == 2 && array.shape[1] == 3072 && array.shape[0] == static_cast<int64_t>(l.size()),
        path, ": 'data' is not (", l.size(), ", 3072)");
    const size_t base = labels.size();
    pixels.resize((base + l.size()) * 3072);
    for (size_t i = 0; i < l.size(); ++i) {
      DISMAX_CHECK(l[i] >= 0 && l[i] < num_classes, path, ": label ", l[i], " of image ", i,
                   " is not in [0, ", num_classes, ")");
      labels.push_back(l[i]);
      planar_to_hwc(reinterpret_cast<const uint8_t*>(array.data.data()) + i * 3072,
                    &pixels[(base + i) * 3072]);
    }
  }
  return std::make_shared<ArrayDataset>(name, files_origin(files), num_classes, 32, 32, 3, std::move(pixels),
                                        std::move(labels));
}

std::shared_ptr<ArrayDataset> read_svhn_mat(const std::string& path) {
  std::vector<MatArray> arrays = read_mat_file(path);
  MatArray& x = find_mat_array(arrays, "X", path);
  const MatArray& y = find_mat_array(arrays, "y", path);
  DISMAX_CHECK(x.dims.size() == 4 && x.dims[2] == 3 && x.storage_type == 2, path,
               ": SVHN's X must be a (H, W, 3, N) uint8 array");
  const int64_t h = x.dims[0], w = x.dims[1], n = x.dims[3];
  DISMAX_CHECK(y.numel() == n, path, ": y has ", y.numel(), " labels for ", n, " images");
  const std::vector<double> yd = y.to_double();
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    const double v = yd[i];
    DISMAX_CHECK(v == std::floor(v) && v >= 0 && v <= 10, path, ": label ", v, " of image ", i,
                 " is not a digit 1-10");
    labels[i] = v == 10 ? 0 : static_cast<int64_t>(v);  // SVHN writes digit 0 as 10
  }
  // Column-major (h, w, c, n) to (n, h, w, c).
  std::vector<uint8_t> pixels(static_cast<size_t>(n * h * w * 3));
  const uint8_t* src = x.data.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t col = 0; col < w; ++col)
        for (int64_t row = 0; row < h; ++row)
          pixels[((i * h + row) * w + col) * 3 + c] = src[((i * 3 + c) * w + col) * h + row];
  std::vector<uint8_t>().swap(x.data);
  return std::make_shared<ArrayDataset>("svhn", path, 10, static_cast<int>(h), static_cast<int>(w), 3,
                                        std::move(pixels), std::move(labels));
}

std::shared_ptr<ArrayDataset> read_idx(const std::string& images_path, const std::string& labels_path,
                                       int64_t num_classes, const std::string& name) {
  const std::vector<uint8_t> ib = read_maybe_gzipped(images_path);
  const std::vector<int64_t> idim = idx_dims(ib, 3, images_path);
  const std::vector<uint8_t> lb = read_maybe_gzipped(labels_path);
  const std::vector<int64_t> ldim = idx_dims(lb, 1, labels_path);
  DISMAX_CHECK(ldim[0] == idim[0], labels_path, ": ", ldim[0], " labels for the ", idim[0], " images of ",
               images_path);
  const int64_t n = idim[0];
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = lb[8 + i];
    DISMAX_CHECK(labels[i] < num_classes, labels_path, ": label ", labels[i], " of item ", i,
                 " is not below ", num_classes);
  }
  std::vector<uint8_t> pixels(ib.begin() + 16, ib.begin() + 16 + n * idim[1] * idim[2]);
  return std::make_shared<ArrayDataset>(name, images_path, num_classes, static_cast<int>(idim[1]),
                                        static_cast<int>(idim[2]), 1, std::move(pixels), std::move(labels));
}

}  // namespace dismax
