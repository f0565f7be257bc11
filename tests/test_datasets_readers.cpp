// Dataset readers on files in their real formats: CIFAR binary and python pickles, SVHN .mat, IDX (plain
// and gzipped), image folders, open_dataset's layouts and errors; the real CIFAR-10 JPEGs of shared/data and
// Debian's Fashion-MNIST when present.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "datasets/registry.h"
#include "datasets/dataset.h"
#include "datasets/image_list.h"
#include "datasets/loader.h"
#include "datasets/mat_file.h"
#include "datasets/transforms.h"
#include "engine/error.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {

// This process's scratch folder, removed at exit.
const fs::path& scratch_root() {
  static const struct Scratch {
    fs::path path = fs::temp_directory_path() / ("dismax_datasets_" + std::to_string(::getpid()));
    ~Scratch() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } scratch;
  return scratch.path;
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = scratch_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void truncate_file(const fs::path& path, size_t keep) { fs::resize_file(path, keep); }

// The error message of `fn`, or "" if it did not throw dismax::Error.
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Pixel (x, y, c) of synthetic image n.
uint8_t pixel(int n, int x, int y, int c) {
  return static_cast<uint8_t>((n * 31 + x * 3 + y * 7 + c * 85) & 0xFF);
}

// CIFAR binary records for images first..first+count-1: <label bytes><R plane><G plane><B plane>.
std::string cifar_records(int first, int count, int label_bytes, int num_classes) {
  std::string out;
  for (int n = first; n < first + count; ++n) {
    if (label_bytes == 2) out.push_back(static_cast<char>(n % 20));  // coarse label
    out.push_back(static_cast<char>(n % num_classes));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) out.push_back(static_cast<char>(pixel(n, x, y, c)));
  }
  return out;
}

void check_synthetic(const Dataset& ds, int n_images, int num_classes) {
  REQUIRE(ds.size() == n_images);
  for (int n : {0, n_images / 2, n_images - 1}) {
    const Example ex = ds.get(n);
    CHECK(ex.label == n % num_classes);
    CHECK(ds.label(n) == n % num_classes);
    REQUIRE(ex.image.width == 32);
    REQUIRE(ex.image.height == 32);
    REQUIRE(ex.image.channels == 3);
    for (auto [x, y] : {std::pair{0, 0}, {31, 0}, {5, 17}, {31, 31}})
      for (int c = 0; c < 3; ++c) CHECK(ex.image.at(x, y, c) == pixel(n, x, y, c));
  }
}

// A Python 2 cPickle protocol-2 dict like the CIFAR python batches: numpy uint8 data (n, 3072) and a list of
// labels under `label_key`.
std::string py2_cifar_pickle(int first, int count, int num_classes, const std::string& label_key) {
  std::string data;
  for (int n = first; n < first + count; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) data.push_back(static_cast<char>(pixel(n, x, y, c)));
  std::string p;
  auto bytes = [&p](std::initializer_list<int> v) {
    for (int x : v) p.push_back(static_cast<char>(x));
  };
  auto text = [&p](const std::string& s) { p += s; };
  auto short_string = [&](const std::string& s) {  // SHORT_BINSTRING, a Python 2 str
    bytes({'U', static_cast<int>(s.size())});
    text(s);
  };
  bytes({0x80, 2, '}', 'q', 1, '('});  // PROTO 2, EMPTY_DICT, BINPUT, MARK
  short_string("batch_label");
  short_string("testing batch 1 of 1");
  short_string(label_key);
  bytes({']', 'q', 2, '('});
  for (int n = first; n < first + count; ++n) bytes({'K', n % num_classes});
  bytes({'e'});
  short_string("data");
  // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b') then BUILD with
  // (1, (count, 3072), dtype('u1', 0, 1) with its state, False, <raw bytes>).
  text("cnumpy.core.multiarray\n_reconstruct\n");
  bytes({'q', 3});
  text("cnumpy\nndarray\n");
  bytes({'q', 4, 'K', 0, 0x85});
  short_string("b");
  bytes({0x87, 'R', 'q', 5, '(', 'K', 1, 'K', count, 'M', 0x00, 0x0c, 0x86});
  text("cnumpy\ndtype\n");
  bytes({'q', 6});
  short_string("u1");
  bytes({'K', 0, 'K', 1, 0x87, 'R', 'q', 7, '(', 'K', 3});
  short_string("|");
  bytes({'N', 'N', 'N', 'J', 0xff, 0xff, 0xff, 0xff, 'J', 0xff, 0xff, 0xff, 0xff, 'K', 0, 't', 'b'});
  text("I00\n");
  const uint32_t len = static_cast<uint32_t>(data.size());
  bytes({'T', static_cast<int>(len & 0xFF), static_cast<int>((len >> 8) & 0xFF),
         static_cast<int>((len >> 16) & 0xFF), static_cast<int>(len >> 24)});
  text(data);
  bytes({'t', 'b'});
  short_string("filenames");
  bytes({']', 'q', 8, '('});
  short_string("a.png");
  short_string("b.png");
  bytes({'e', 'u', '.'});  // APPENDS, SETITEMS, STOP
  return p;
}

// A level-5 MAT-file without compression holding X (32, 32, 3, n) uint8 and y (n, 1) double.
std::string mat_v5_uncompressed(const std::vector<int>& labels) {
  const int n = static_cast<int>(labels.size());
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto pad8 = [](std::string s) {
    s.resize((s.size() + 7) & ~size_t{7}, '\0');
    return s;
  };
  auto matrix = [&](int mx_class, std::vector<int> dims, const std::string& name, uint32_t type,
                    const std::string& data) {
    std::string body = u32(6) + u32(8) + u32(static_cast<uint32_t>(mx_class)) + u32(0);
    std::string d;
    for (int v : dims) d += u32(static_cast<uint32_t>(v));
    body += u32(5) + u32(static_cast<uint32_t>(d.size())) + pad8(d);
    body += u32(1) + u32(static_cast<uint32_t>(name.size())) + pad8(name);
    body += u32(type) + u32(static_cast<uint32_t>(data.size())) + pad8(data);
    return u32(14) + u32(static_cast<uint32_t>(body.size())) + body;
  };
  std::string x;  // column-major (row, col, c, n)
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c)
      for (int col = 0; col < 32; ++col)
        for (int row = 0; row < 32; ++row) x.push_back(static_cast<char>(pixel(i, col, row, c)));
  std::string y;
  for (int l : labels) {
    const double v = l;
    y += std::string(reinterpret_cast<const char*>(&v), 8);
  }
  std::string header = "MATLAB 5.0 MAT-file, written by the dismax tests";
  header.resize(116, ' ');
  header += std::string(8, '\0');
  header += std::string("\x00\x01IM", 4);
  return header + matrix(9, {32, 32, 3, n}, "X", 2, x) + matrix(6, {n, 1}, "y", 9, y);
}

std::string idx_file(const std::vector<int>& dims, const std::string& payload, uint8_t type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (int d : dims)
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((d >> (8 * k)) & 0xFF));
  return s + payload;
}
void write_gz(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.string().c_str(), "wb");
  REQUIRE(f != nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

}  // namespace

TEST_CASE("datasets: CIFAR-10 and CIFAR-100 binary batches") {
  const fs::path dir = temp_dir("cifar_bin");
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir / "cifar-10-batches-bin" / ("data_batch_" + std::to_string(b) + ".bin"),
                cifar_records((b - 1) * 3, 3, 1, 10));
  write_bytes(dir / "cifar-10-batches-bin" / "test_batch.bin", cifar_records(0, 4, 1, 10));
  auto train = open_dataset("cifar10", dir.string(), "train");
  CHECK(train->name() == "cifar10");
  CHECK(train->num_classes() == 10);
  check_synthetic(*train, 15, 10);
  check_synthetic(*open_dataset("cifar10", dir.string(), "test"), 4, 10);

  write_bytes(dir / "cifar-100-binary" / "train.bin", cifar_records(0, 130, 2, 100));
  write_bytes(dir / "cifar-100-binary" / "test.bin", cifar_records(0, 5, 2, 100));
  auto c100 = open_dataset("cifar100", dir.string(), "train");
  CHECK(c100->num_classes() == 100);
  check_synthetic(*c100, 130, 100);  // fine label (second byte); coarse labels differ
  CHECK(c100->label(120) == 20);

  // Truncated file, a missing batch, labels out of range.
  truncate_file(dir / "cifar-10-batches-bin" / "test_batch.bin", 3073 * 2 + 100);
  std::string e = error_of([&] { open_dataset("cifar10", dir.string(), "test"); });
  CHECK(contains(e, "test_batch.bin"));
  CHECK(contains(e, "truncated"));
  fs::remove(dir / "cifar-10-batches-bin" / "data_batch_3.bin");
  e = error_of([&] { open_dataset("cifar10", dir.string(), "train"); });
  CHECK(contains(e, "data_batch_3.bin"));
  std::string bad = cifar_records(0, 1, 1, 10);
  bad[0] = 12;
  write_bytes(dir / "bad.bin", bad);
  e = error_of([&] { read_cifar_binary({(dir / "bad.bin").string()}, 10, 1, "cifar10"); });
  CHECK(contains(e, "bad.bin"));
  CHECK(contains(e, "label 12"));
}

TEST_CASE("datasets: CIFAR python pickles as torchvision downloads them") {
  const fs::path dir = temp_dir("cifar_py");
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir / "cifar-10-batches-py" / ("data_batch_" + std::to_string(b)),
                py2_cifar_pickle((b - 1) * 2, 2, 10, "labels"));
  write_bytes(dir / "cifar-10-batches-py" / "test_batch", py2_cifar_pickle(0, 3, 10, "labels"));
  auto train = open_dataset("cifar10", dir.string(), "train");
  check_synthetic(*train, 10, 10);
  check_synthetic(*open_dataset("cifar10", dir.string(), "test"), 3, 10);
  write_bytes(dir / "cifar-100-python" / "test", py2_cifar_pickle(0, 7, 100, "fine_labels"));
  check_synthetic(*open_dataset("cifar100", dir.string(), "test"), 7, 100);

  const fs::path test_batch = dir / "cifar-10-batches-py" / "test_batch";
  truncate_file(test_batch, fs::file_size(test_batch) - 1000);
  const std::string e = error_of([&] { open_dataset("cifar10", dir.string(), "test"); });
  CHECK(contains(e, test_batch.string()));
  CHECK(contains(e, "truncated"));
}

TEST_CASE("datasets: SVHN .mat files (scipy-written compressed fixture and an uncompressed v5 file)") {
  // tests/reference/svhn_tiny.mat: X (32, 32, 3, 3) with X[r, c, ch, n] = (3r + 5c + 40ch + 17n) % 256, y =
  // 10, 1, 5
  const std::string fixture = DISMAX_FIXTURE_DIR "/svhn_tiny.mat";
  auto ds = read_svhn_mat(fixture);
  REQUIRE(ds->size() == 3);
  CHECK(ds->label(0) == 0);  // 10 means digit 0
  CHECK(ds->label(1) == 1);
  CHECK(ds->label(2) == 5);
  for (int n = 0; n < 3; ++n) {
    const Image img = ds->get(n).image;
    for (auto [r, c] : {std::pair{0, 0}, {3, 29}, {31, 7}})
      for (int ch = 0; ch < 3; ++ch) CHECK(img.at(c, r, ch) == (3 * r + 5 * c + 40 * ch + 17 * n) % 256);
  }

  const fs::path dir = temp_dir("svhn");
  write_bytes(dir / "test_32x32.mat", mat_v5_uncompressed({10, 3, 7, 1}));
  auto test = open_dataset("svhn", dir.string(), "test");
  REQUIRE(test->size() == 4);
  CHECK(test->num_classes() == 10);
  CHECK(test->label(0) == 0);
  CHECK(test->label(2) == 7);
  const Image img = test->get(2).image;
  CHECK(img.at(5, 9, 1) == pixel(2, 5, 9, 1));  // pixel() was written as (col, row)

  // Truncated (compressed and uncompressed), not a MAT-file, missing variable.
  write_bytes(dir / "train_32x32.mat", read_bytes(fixture).substr(0, 700));
  std::string e = error_of([&] { open_dataset("svhn", dir.string(), "train"); });
  CHECK(contains(e, "train_32x32.mat"));
  CHECK(contains(e, "truncated"));
  truncate_file(dir / "test_32x32.mat", 3000);
  e = error_of([&] { read_svhn_mat((dir / "test_32x32.mat").string()); });
  CHECK(contains(e, "test_32x32.mat"));
  CHECK(contains(e, "truncated"));
  write_bytes(dir / "junk.mat", std::string(300, 'x'));
  CHECK(contains(error_of([&] { read_svhn_mat((dir / "junk.mat").string()); }), "junk.mat"));
  std::string no_y = mat_v5_uncompressed({1});
  write_bytes(dir / "no_y.mat", no_y.substr(0, no_y.size() - 72));  // drop the y variable
  e = error_of([&] { read_svhn_mat((dir / "no_y.mat").string()); });
  CHECK(contains(e, "no_y.mat"));
  CHECK(contains(e, "'y'"));
}

TEST_CASE("datasets: IDX files, gzipped or not") {
  const fs::path dir = temp_dir("idx");
  std::string images, labels;
  for (int n = 0; n < 6; ++n) {
    labels.push_back(static_cast<char>(n % 10));
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) images.push_back(static_cast<char>(pixel(n, x, y, 0)));
  }
  write_bytes(dir / "train-images-idx3-ubyte", idx_file({6, 28, 28}, images));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_file({6}, labels));
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_file({6, 28, 28}, images));
  write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_file({6}, labels));
  for (const char* split : {"train", "test"}) {
    auto ds = open_dataset("mnist", dir.string(), split);
    REQUIRE(ds->size() == 6);
    CHECK(ds->num_classes() == 10);
    const Example ex = ds->get(4);
    CHECK(ex.label == 4);
    REQUIRE(ex.image.channels == 1);
    CHECK(ex.image.width == 28);
    CHECK(ex.image.at(13, 21, 0) == pixel(4, 13, 21, 0));
  }
  // Wrong magic, truncated (plain and gzipped), label count mismatch.
  write_bytes(dir / "bad-images", idx_file({6, 28, 28}, images, 0x0D));
  std::string e = error_of([&] {
    read_idx((dir / "bad-images").string(), (dir / "train-labels-idx1-ubyte").string(), 10, "mnist");
  });
  CHECK(contains(e, "bad-images"));
  truncate_file(dir / "train-images-idx3-ubyte", 16 + 28 * 28 * 5);
  e = error_of([&] { open_dataset("mnist", dir.string(), "train"); });
  CHECK(contains(e, "train-images-idx3-ubyte"));
  CHECK(contains(e, "truncated"));
  const std::string gz = read_bytes(dir / "t10k-images-idx3-ubyte.gz");
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", gz.substr(0, gz.size() / 2));
  e = error_of([&] { open_dataset("mnist", dir.string(), "test"); });
  CHECK(contains(e, "t10k-images-idx3-ubyte.gz"));
  write_bytes(dir / "six-images", idx_file({6, 28, 28}, images));
  write_bytes(dir / "five-labels", idx_file({5}, labels.substr(0, 5)));
  e = error_of([&] { read_idx((dir / "six-images").string(), (dir / "five-labels").string(), 10, "mnist"); });
  CHECK(contains(e, "five-labels"));
  e = error_of(
      [&] { read_idx((dir / "five-labels").string(), (dir / "five-labels").string(), 10, "mnist"); });
  CHECK(contains(e, "rank 1"));
}

TEST_CASE("datasets: open_dataset errors name what was looked for") {
  const fs::path dir = temp_dir("errors");
  std::string e = error_of([&] { open_dataset("cifar10", (dir / "absent").string(), "train"); });
  CHECK(contains(e, (dir / "absent").string()));
  CHECK(contains(e, "does not exist"));
  e = error_of([&] { open_dataset("cifar10", dir.string(), "train"); });
  CHECK(contains(e, "cifar-10-batches-bin"));
  CHECK(contains(e, "cifar-10-batches-py"));
  e = error_of([&] { open_dataset("svhn", dir.string(), "test"); });
  CHECK(contains(e, "test_32x32.mat"));
  e = error_of([&] { open_dataset("fashion-mnist", dir.string(), "train"); });
  CHECK(contains(e, "train-images-idx3-ubyte"));
  e = error_of([&] { open_dataset("imagenet", dir.string(), "val"); });
  CHECK(contains(e, (dir / "val").string()));
  e = error_of([&] { open_dataset("tinyimagenet", dir.string(), "train"); });
  CHECK(contains(e, "unknown dataset"));
  CHECK(contains(e, "fashion-mnist"));
  e = error_of([&] { open_dataset("cifar10", dir.string(), "validation"); });
  CHECK(contains(e, "validation"));
}

TEST_CASE("datasets: Fashion-MNIST from Debian's dataset-fashion-mnist") {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(root + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: " << root << " not found (apt-get install dataset-fashion-mnist)");
    return;
  }
  auto train = std::dynamic_pointer_cast<const ArrayDataset>(open_dataset("fashion-mnist", root, "train"));
  auto test = open_dataset("fashion-mnist", root, "test");
  REQUIRE(train);
  CHECK(train->size() == 60000);
  CHECK(test->size() == 10000);
  CHECK(train->height() == 28);
  CHECK(train->channels() == 1);
  std::vector<int64_t> per_class(10, 0);
  double sum = 0;
  for (int64_t i = 0; i < train->size(); ++i) {
    const int64_t l = train->label(i);
    REQUIRE((l >= 0 && l < 10));
    ++per_class[l];
  }
  for (int64_t c : per_class) CHECK(c == 6000);
  for (int64_t i = 0; i < train->size(); i += 7) {
    const Image img = train->get(i).image;
    for (uint8_t v : img.pixels) sum += v;
  }
  const double mean = sum / (255.0 * 784.0 * ((train->size() + 6) / 7));
  CHECK(mean == doctest::Approx(0.2860).epsilon(0.01));
}

TEST_CASE("datasets: image folders (class index = folder rank, grey to RGB, errors, skip_unreadable)") {
  if (!image_decoding_available()) {
    MESSAGE("skipped: dismax was built without OpenCV");
    const fs::path dir = temp_dir("no_opencv");
    fs::create_directories(dir / "a");
    CHECK(contains(error_of([&] { ImageFolderDataset ds(dir.string()); }), "without OpenCV"));
    return;
  }
  const fs::path dir = temp_dir("folder");
  Image rgb_img(6, 4, 3), grey_img(5, 3, 1);
  for (size_t i = 0; i < rgb_img.pixels.size(); ++i) rgb_img.pixels[i] = static_cast<uint8_t>(i * 9);
  for (size_t i = 0; i < grey_img.pixels.size(); ++i) grey_img.pixels[i] = static_cast<uint8_t>(i * 17);
  for (const char* sub : {"zebra", "apple/nested", "mango"}) fs::create_directories(dir / sub);
  write_image((dir / "zebra" / "b.png").string(), rgb_img);
  write_image((dir / "zebra" / "a.PNG").string(), grey_img);
  write_image((dir / "apple" / "nested" / "x.png").string(), rgb_img);
  write_image((dir / "apple" / "y.jpg").string(), rgb_img, 100);
  write_bytes(dir / "apple" / "notes.txt", "not an image");
  // mango: a class without images keeps its index
  ImageFolderDataset ds(dir.string());
  REQUIRE(ds.size() == 4);
  CHECK(ds.classes() == std::vector<std::string>{"apple", "mango", "zebra"});
  CHECK(ds.num_classes() == 3);
  // torchvision order: (directory, file) sorted; apple/nested/x.png after apple/y.jpg.
  CHECK(ds.path(0) == (dir / "apple" / "y.jpg").string());
  CHECK(ds.path(1) == (dir / "apple" / "nested" / "x.png").string());
  CHECK(ds.path(2) == (dir / "zebra" / "a.PNG").string());
  CHECK(ds.label(0) == 0);
  CHECK(ds.label(3) == 2);
  const Image png = ds.get(3).image;
  CHECK(png.pixels == rgb_img.pixels);
  const Image grey = ds.get(2).image;
  REQUIRE(grey.channels == 3);
  CHECK(grey.at(4, 2, 0) == grey_img.at(4, 2, 0));
  CHECK(grey.at(4, 2, 2) == grey_img.at(4, 2, 0));

  // A flat folder is one class.
  auto flat = open_dataset("folder", (dir / "zebra").string(), "");
  CHECK(flat->num_classes() == 1);
  CHECK(flat->size() == 2);
  CHECK(flat->label(1) == 0);

  // Corrupt and truncated images: errors naming the path, or warnings with skip_unreadable.
  const std::string jpg = read_bytes(dir / "apple" / "y.jpg");
  write_bytes(dir / "zebra" / "c_truncated.jpg", jpg.substr(0, jpg.size() / 2));
  write_bytes(dir / "zebra" / "d_corrupt.png", "\x89PNG\r\n\x1a\n garbage garbage");
  ImageFolderDataset strict(dir.string());
  std::string e = error_of([&] { strict.get(4); });
  CHECK(contains(e, (dir / "zebra" / "c_truncated.jpg").string()));
  CHECK(contains(e, "truncated"));
  e = error_of([&] { strict.get(5); });
  CHECK(contains(e, (dir / "zebra" / "d_corrupt.png").string()));
  DatasetOptions skip;
  skip.skip_unreadable = true;
  auto lenient = std::make_shared<ImageFolderDataset>(dir.string(), skip);
  CHECK(lenient->get(4).image.empty());
  CHECK(lenient->get(4).image.empty());
  CHECK(lenient->skipped() == 1);
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.workers = 2;
  DataLoader loader(lenient, Transform().then("resize(8x8)", resize(8, 8)), lo);
  loader.start_epoch(0);
  int64_t seen = 0;
  while (auto b = loader.next()) seen += b->size();
  CHECK(seen == 4);
  CHECK(lenient->skipped() == 2);

  // Missing folder, empty folder.
  e = error_of([&] { ImageFolderDataset missing((dir / "absent").string()); });
  CHECK(contains(e, (dir / "absent").string()));
  e = error_of([&] { ImageFolderDataset empty((dir / "mango").string()); });
  CHECK(contains(e, "no images"));
}

namespace {
// Extracts shared/data/cifar10-jpeg.tar.gz once into the temp folder (cached across test runs).
std::string cifar10_jpeg_root() {
  const fs::path archive = DISMAX_SHARED_DIR "/data/cifar10-jpeg.tar.gz";
  if (!fs::exists(archive)) return "";
  // Keyed by the archive's size so that a changed archive is extracted afresh.
  const fs::path root =
      fs::temp_directory_path() / ("dismax_cifar10_jpeg_" + std::to_string(fs::file_size(archive)));
  if (fs::exists(root / ".complete")) return root.string();
  const fs::path tmp = fs::temp_directory_path() / ("dismax_cifar10_jpeg.tmp" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const std::string cmd = "tar xzf '" + archive.string() + "' -C '" + tmp.string() + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  write_bytes(tmp / ".complete", "");
  std::error_code ec;
  fs::rename(tmp, root, ec);  // another test process may have won the race
  if (ec) fs::remove_all(tmp);
  return root.string();
}
}  // namespace

TEST_CASE("datasets: real CIFAR-10 JPEGs (shared/data/cifar10-jpeg.tar.gz)") {
  if (!image_decoding_available()) {
    MESSAGE("skipped: dismax was built without OpenCV");
    return;
  }
  const std::string root = cifar10_jpeg_root();
  if (root.empty()) {
    MESSAGE("skipped: " DISMAX_SHARED_DIR "/data/cifar10-jpeg.tar.gz not found");
    return;
  }
  auto train = open_dataset("cifar10", root, "train");
  auto test = open_dataset("cifar10", root, "test");
  CHECK(train->size() == 50000);
  CHECK(test->size() == 10000);
  CHECK(train->num_classes() == 10);
  const auto* folder = dynamic_cast<const ImageFolderDataset*>(test.get());
  REQUIRE(folder != nullptr);
  // Folder-name rank is CIFAR-10's label order.
  CHECK(folder->classes() == std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog",
                                                      "frog", "horse", "ship", "truck"});
  std::vector<int64_t> per_class(10, 0);
  for (int64_t i = 0; i < test->size(); ++i) ++per_class[test->label(i)];
  for (int64_t c : per_class) CHECK(c == 1000);
  CHECK(train->label(0) == 0);
  CHECK(train->label(49999) == 9);
  CHECK(contains(train->source(5000 * 3), "/cat/"));
  CHECK(train->label(5000 * 3) == 3);

  // Channel means of the test set through the loader (to_tensor only): close to SPEC §4.1's constants.
  LoaderOptions lo;
  lo.batch_size = 500;
  lo.workers = 2;
  DataLoader loader(test, Transform(), lo);
  loader.start_epoch(0);
  double sums[3] = {0, 0, 0};
  int64_t n = 0;
  while (auto b = loader.next()) {
    REQUIRE(b->images.sizes() == Shape{b->size(), 3, 32, 32});
    const float* p = b->images.data<float>();
    for (int64_t i = 0; i < b->size(); ++i)
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 1024; ++k) sums[c] += p[(i * 3 + c) * 1024 + k];
    n += b->size();
  }
  REQUIRE(n == 10000);
  const Normalization norm = normalization_for("cifar10");
  for (int c = 0; c < 3; ++c) {
    const double mean = sums[c] / (1024.0 * n);
    MESSAGE("CIFAR-10 test JPEGs, channel " << c << " mean " << mean << " (SPEC train mean " << norm.mean[c]
                                            << ")");
    CHECK(std::abs(mean - norm.mean[c]) < 0.01);
  }
}

TEST_CASE("datasets: OpenOOD image lists (relative paths, labels, errors naming the line)") {
  const fs::path dir = temp_dir("imglist");
  fs::create_directories(dir / "images" / "a");
  write_bytes(dir / "id.txt", "a/0.png 3\na/1.png 0\n\n");
  write_bytes(dir / "ood.txt", "a/0.png -1\na/1.png\r\n");
  const ImageListDataset id((dir / "id.txt").string(), (dir / "images").string(), 10, "id");
  CHECK(id.size() == 2);
  CHECK(id.label(0) == 3);
  CHECK(id.source(1) == (dir / "images" / "a" / "1.png").string());
  const ImageListDataset ood((dir / "ood.txt").string(), (dir / "images").string(), 0, "ood");
  CHECK(ood.size() == 2);
  CHECK(ood.label(1) == -1);
  CHECK_THROWS_WITH_AS(ImageListDataset((dir / "ood.txt").string(), (dir / "images").string(), 10, "id"),
                       doctest::Contains("ood.txt, line 1: no label in [0, 10)"), Error);
  write_bytes(dir / "bad.txt", "a/0.png 1\n/etc/passwd 0\n");
  CHECK_THROWS_WITH_AS(ImageListDataset((dir / "bad.txt").string(), (dir / "images").string(), 10, "id"),
                       doctest::Contains("bad.txt, line 2: '/etc/passwd' is not a path inside"), Error);
  write_bytes(dir / "up.txt", "a/../../x.png 1\n");
  CHECK_THROWS_WITH_AS(ImageListDataset((dir / "up.txt").string(), (dir / "images").string(), 10, "id"),
                       doctest::Contains("up.txt, line 1"), Error);
  write_bytes(dir / "junk.txt", "a/0.png 3abc\n");
  CHECK_THROWS_WITH_AS(ImageListDataset((dir / "junk.txt").string(), (dir / "images").string(), 10, "id"),
                       doctest::Contains("no label"), Error);
  CHECK_THROWS_WITH_AS(ImageListDataset((dir / "absent.txt").string(), (dir / "images").string(), 10, "id"),
                       doctest::Contains("absent.txt: cannot open image list"), Error);
  write_bytes(dir / "empty.txt", "\n");
  CHECK_THROWS_WITH_AS(ImageListDataset((dir / "empty.txt").string(), (dir / "images").string(), 0, "e"),
                       doctest::Contains("lists no image"), Error);
  CHECK_THROWS_WITH_AS(ImageListDataset((dir / "id.txt").string(), (dir / "nope").string(), 10, "id"),
                       doctest::Contains("does not exist"), Error);
}
