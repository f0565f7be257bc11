// Hostile and unlucky inputs, one case per failure an outside probe found: decompression bombs, checkpoint
// metadata that drives allocation, out of memory while unwinding, NaN weights, torn resumable checkpoints,
// two runs on one folder, nonsense configuration, overflowing IDX headers, aliased safetensors data and
// symlink loops. Each case fails on the code before its fix.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "datasets/dataset.h"
#include "datasets/image.h"
#include "engine/autograd/node.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "layers/sgd.h"
#include "experiment/model_with_loss.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "tools/common/folder_lock.h"
#include "experiment/train_config.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("dismax_hostile_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A PNG signature and IHDR chunk declaring width x height (no image data: the guard must refuse it first).
std::string png_header(uint32_t width, uint32_t height) {
  std::string b = "\x89PNG\r\n\x1a\n";
  b += std::string("\0\0\0\x0dIHDR", 8);
  for (uint32_t v : {width, height})
    for (int s = 24; s >= 0; s -= 8) b += static_cast<char>((v >> s) & 0xff);
  b += std::string("\x08\x02\0\0\0\0\0\0\0", 9);
  return b;
}

// A small checkpoint of a DisMax ResNet-20 at width 0.25, and its tensors and metadata.
TensorFile small_checkpoint(const fs::path& path) {
  Generator gen(3);
  auto model = make_model("resnet20", 10, gen, {1, 0.25});
  attach_loss(*model, parse_loss("dismax"), gen);
  save_checkpoint(path.string(), *model, model_metadata(*model, parse_loss("dismax"), {1, 0.25}));
  return load_safetensors(path.string());
}

}  // namespace

TEST_CASE("only the image folders' formats reach a decoder; the rest of OpenCV's are refused by content") {
  if (!image_decoding_available()) {
    MESSAGE("skipped: built without OpenCV");
    return;
  }
  const fs::path dir = scratch("decoders");
  Image picture(5, 3, 3);
  for (size_t i = 0; i < picture.pixels.size(); ++i) picture.pixels[i] = static_cast<uint8_t>(17 * i);
  for (const char* name : {"a.png", "a.bmp", "a.ppm", "a.tiff", "a.webp", "a.jpg"}) {
    CAPTURE(name);
    write_image((dir / name).string(), picture);
    const Image back = read_image((dir / name).string());
    CHECK(back.width == 5);
    CHECK(back.height == 3);
  }
  // The names lie: content decides. JPEG 2000, OpenEXR, Radiance HDR, a GDAL virtual dataset naming
  // another file, GIF and Sun raster all stop before any decoder.
  const std::string refused[] = {std::string("\0\0\0\x0cjP  \r\n\x87\n", 12), "\x76\x2f\x31\x01\x02\0\0\0",
                                 "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n",
                                 "<VRTDataset rasterXSize=\"1\"><SourceFilename>/etc/passwd</SourceFilename>",
                                 "GIF89a\x01\0\x01\0\0\0\0;", "\x59\xa6\x6a\x95\0\0\0\x01"};
  for (const std::string& bytes : refused) {
    CAPTURE(bytes);
    CHECK_THROWS_WITH(decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.png"),
                      doctest::Contains("x.png: not a JPEG, PNG, BMP, PPM/PGM, TIFF or WebP file"));
  }
}

TEST_CASE("decompression bombs are refused before anything is allocated, and skipped in OOD folders") {
  if (!image_decoding_available()) {
    MESSAGE("skipped: built without OpenCV");
    return;
  }
  const fs::path dir = scratch("bombs");
  // A real 899-byte-class JPEG whose frame header is patched to claim 65500 x 65500.
  write_image((dir / "small.jpg").string(), Image(8, 8, 3));
  std::string jpeg = read_bytes(dir / "small.jpg");
  const size_t sof = jpeg.find("\xff\xc0");
  REQUIRE(sof != std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 7] = '\xff';
  jpeg[sof + 6] = jpeg[sof + 8] = '\xdc';  // 0xffdc = 65500
  CHECK_THROWS_WITH(decode_image(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size(), "bomb.jpg"),
                    doctest::Contains("bomb.jpg: it declares 65500x65500"));
  const std::string png = png_header(20000, 20000);
  CHECK_THROWS_WITH(decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "bomb.png"),
                    doctest::Contains("declares 20000x20000 = 400000000 pixels"));
  // The limit is a setting: a small one refuses an ordinary image too, 0 lifts it.
  set_max_image_pixels(63);
  CHECK_THROWS_WITH(read_image((dir / "small.jpg").string()), doctest::Contains("more than the limit of 63"));
  set_max_image_pixels(0);
  CHECK(read_image((dir / "small.jpg").string()).width == 8);
  set_max_image_pixels(kDefaultMaxImagePixels);
  CHECK_THROWS(set_max_image_pixels(-1));

  // In an OOD folder read with skip_unreadable, a bomb is one more unreadable file.
  fs::create_directories(dir / "ood" / "x");
  write_bytes(dir / "ood" / "x" / "a_bomb.jpg", jpeg);
  write_bytes(dir / "ood" / "x" / "b_bomb.png", png);
  fs::copy_file(dir / "small.jpg", dir / "ood" / "x" / "c_good.jpg");
  DatasetOptions options;
  options.skip_unreadable = true;
  ImageFolderDataset folder((dir / "ood").string(), options, "ood");
  REQUIRE(folder.size() == 3);
  CHECK(folder.get(0).image.empty());
  CHECK(folder.get(1).image.empty());
  CHECK(folder.get(2).image.width == 8);
  CHECK(folder.skipped() == 2);
}

TEST_CASE("checkpoint metadata is checked against the limits and the file before a model is built") {
  const fs::path dir = scratch("metadata");
  const TensorFile file = small_checkpoint(dir / "good.safetensors");
  CHECK_NOTHROW(load_model((dir / "good.safetensors").string()));
  struct Case {
    const char* key;
    const char* value;
    const char* message;
  };
  for (const Case& c : {Case{"blocks", "100000000,1,1", "metadata 'blocks': 100000000 blocks in a stage"},
                        Case{"width", "1e6", "metadata 'width' = 1e+06 is outside (0, 4]"},
                        Case{"num_classes", "100000000000", "metadata 'num_classes' = 100000000000 is outside"},
                        Case{"num_classes", "500", "metadata 'num_classes' = 500 but no tensor"},
                        Case{"blocks", "3,x,3", "'x' is not an integer"},
                        Case{"depth", "-4", "metadata 'depth' = -4"},
                        Case{"width", "4", "describes"}}) {
    CAPTURE(c.key);
    CAPTURE(c.value);
    Metadata meta = file.metadata;
    meta[c.key] = c.value;
    const std::string path = (dir / "bad.safetensors").string();
    save_safetensors(path, file.tensors, meta);
    CHECK_THROWS_WITH(load_model(path), doctest::Contains(c.message));
  }
}

TEST_CASE("out of memory is an error naming the size, and releasing memory during unwinding never aborts") {
  // In a child limited to 512 MiB more address space than it has: allocate until the allocator fails, in many size classes,
  // then let every tensor go while the error unwinds (each release may need a new free-list node).
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    size_t pages = 0;
    if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(statm, "%zu", &pages) != 1) pages = 0;
      std::fclose(statm);
    }
    const rlim_t cap = pages * static_cast<size_t>(::sysconf(_SC_PAGESIZE)) + (size_t{512} << 20);
    rlimit limit{cap, cap};
    setrlimit(RLIMIT_AS, &limit);
    int code = 3;
    try {
      std::vector<Tensor> held;
      for (int64_t i = 0;; ++i) held.push_back(Tensor::empty({(int64_t{1} << 16) + 977 * i}, DType::Float32));
    } catch (const Error& e) {
      code = std::string(e.what()).find("out of memory: could not allocate") != std::string::npos ? 0 : 4;
    } catch (...) {
      code = 5;
    }
    try {
      const Tensor after = Tensor::ones({1000}) * 2.0;  // the process is still usable
      if (sum(after).item() != 2000.0) code = 6;
    } catch (...) {
      code = 7;
    }
    std::_Exit(code);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK_MESSAGE(WIFEXITED(status), "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  if (WIFEXITED(status)) CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("NaN is never hidden, written or loaded as a good checkpoint") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const auto r = relu(Tensor::from_vector<float>({nan, -1.f, 2.f, -inf}, {4})).to_vector<float>();
  CHECK(std::isnan(r[0]));  // PyTorch: relu(NaN) = NaN
  CHECK(r[1] == 0.f);
  CHECK(r[2] == 2.f);
  CHECK(r[3] == 0.f);
  const auto pooled = max_pool2d(Tensor::from_vector<float>({1.f, nan, 3.f, 2.f}, {1, 1, 2, 2}), 2, 2, 0);
  CHECK(std::isnan(pooled.item()));

  const fs::path dir = scratch("nan");
  Generator gen(1);
  auto model = make_model("resnet20", 10, gen, {1, 0.25});
  attach_loss(*model, parse_loss("softmax"), gen);
  CHECK(first_non_finite(*model).empty());
  const Metadata meta = model_metadata(*model, parse_loss("softmax"), {1, 0.25});
  const std::string good = (dir / "good.safetensors").string();
  save_checkpoint(good, *model, meta);
  const std::string before = read_bytes(good);
  {
    NoGradGuard no_grad;
    model->named_parameters()[5].second.view({-1}).narrow(0, 3, 1).fill_(inf);
  }
  const std::string bad_name = model->named_parameters()[5].first;
  CHECK(first_non_finite(*model) == bad_name);
  CHECK_THROWS_WITH(save_checkpoint(good, *model, meta), doctest::Contains(("parameter '" + bad_name + "'").c_str()));
  CHECK(read_bytes(good) == before);  // the good file is untouched
  // A non-finite file written by something else is refused by evaluation and by resume alike.
  const std::string diverged = (dir / "diverged.safetensors").string();
  save_safetensors(diverged, model->state_dict(), meta);
  CHECK_THROWS_WITH(load_model(diverged), doctest::Contains(("tensor '" + bad_name + "' holds NaN or infinite").c_str()));
  CHECK_THROWS_WITH(load_checkpoint(diverged, *model), doctest::Contains(bad_name.c_str()));
}

TEST_CASE("a resumable checkpoint is one file: weights and training state together, evaluable as it is") {
  const fs::path dir = scratch("resumable");
  Generator gen(5);
  auto model = make_model("resnet20", 10, gen, {1, 0.25});
  attach_loss(*model, parse_loss("dismax"), gen);
  SGD sgd(model->named_parameters(), {0.1, 0.9, 0.0, 1e-4, true});
  for (auto& p : model->parameters()) p.set_grad(Tensor::ones_like(p));
  sgd.step();
  Generator batches(11);
  (void)Tensor::rand({7}, batches);
  const std::string path = (dir / "last.safetensors").string();
  save_resumable_checkpoint(path, *model, model_metadata(*model, parse_loss("dismax"), {1, 0.25}), sgd, 3,
                            {{"batches", &batches}}, {{"batch", "4"}});
  CHECK(is_resumable_checkpoint(load_safetensors_metadata(path)));
  CHECK_NOTHROW(load_model(path));  // the training state does not get in the way of evaluation

  Generator gen2(99), batches2(0);
  auto restored = make_model("resnet20", 10, gen2, {1, 0.25});
  attach_loss(*restored, parse_loss("dismax"), gen2);
  SGD sgd2(restored->named_parameters(), {0.1, 0.9, 0.0, 1e-4, true});
  const Metadata state = load_resumable_checkpoint(path, *restored, sgd2, {{"batches", &batches2}});
  CHECK(state.at("epoch") == "3");
  CHECK(state.at("batch") == "4");
  CHECK(sgd2.step_count() == 1);
  CHECK(batches2.offset() == batches.offset());
  CHECK(sgd2.state().size() == sgd.state().size());
  // A state without a momentum buffer after a step would restart that parameter's momentum silently.
  NamedTensors partial = sgd.state();
  partial.pop_back();
  CHECK_THROWS_WITH(sgd2.load_state(partial, 1, "x.state"), doctest::Contains("has no 'momentum_buffer."));
}

TEST_CASE("an output folder is locked by one run at a time; stale temporaries are removed") {
  const fs::path dir = scratch("lock");
  {
    const FolderLock first(dir.string(), "dismax-train --out A");
    CHECK_THROWS_WITH(FolderLock(dir.string(), "dismax-train --out A"),
                      doctest::Contains(("is in use by another run (pid " + std::to_string(::getpid()) +
                                         ": dismax-train --out A)").c_str()));
  }
  CHECK_NOTHROW(FolderLock(dir.string(), "again"));  // released with its holder
  write_bytes(dir / "last.safetensors.tmp.12345", "torn");
  write_bytes(dir / "config.json.tmp.7", "torn");
  write_bytes(dir / "notes.tmp.txt", "kept");
  CHECK(remove_stale_temporaries(dir.string()) == 2);
  CHECK(fs::exists(dir / "notes.tmp.txt"));
  CHECK(!fs::exists(dir / "last.safetensors.tmp.12345"));
}

TEST_CASE("nonsense configuration is refused with the flag named") {
  struct Case {
    std::function<void(TrainConfig&)> set;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {[](TrainConfig& t) { t.validation_split = 1.5; }, "--validation-split must be 0, a fraction"},
           {[](TrainConfig& t) { t.validation_split = -0.5; }, "--validation-split"},
           {[](TrainConfig& t) { t.validation_split = std::nan(""); }, "--validation-split"},
           {[](TrainConfig& t) { t.gamma = -1; }, "--gamma must be in (0, 1]"},
           {[](TrainConfig& t) { t.momentum = 2; }, "--momentum must be in [0, 1)"},
           {[](TrainConfig& t) { t.threads = -1; }, "--threads"},
           {[](TrainConfig& t) { t.max_train_batches = -1; }, "--max-batches"},
           {[](TrainConfig& t) { t.train_subset = -5; }, "--train-subset"},
           {[](TrainConfig& t) { t.log_every = -1; }, "--log-every"},
           {[](TrainConfig& t) { t.lr = 0; }, "--lr"},
           {[](TrainConfig& t) { t.epochs = 0; }, "--epochs"},
           {[](TrainConfig& t) { t.milestones = {10, 5}; }, "--milestones must be increasing"},
           {[](TrainConfig& t) { t.dataset = "svhn"; }, "--dataset 'svhn' has no training recipe"},
           {[](TrainConfig& t) { t.dataset = "folder"; }, "has no training recipe"},
       }) {
    TrainConfig config;
    c.set(config);
    CHECK_THROWS_WITH(config.validate(), doctest::Contains(c.message));
  }
  CHECK_NOTHROW(TrainConfig().validate());
  TrainConfig count;
  count.validation_split = 5000;
  CHECK_NOTHROW(count.validate());
  for (const char* bad : {"dismax_std_std_xyz", "dismax_", "dismax__fpr", "dismax_fpr_-1", "dismax_fpr_x", "softmax_fpr",
                          "isomax_std_std_fpr", "dismax_a_b_c_d"})
    CHECK_THROWS_WITH_AS(parse_loss(bad), doctest::Contains((std::string("invalid loss '") + bad + "'").c_str()), Error);
}

TEST_CASE("file formats: IDX sizes that overflow, safetensors with aliased or trailing bytes") {
  const fs::path dir = scratch("formats");
  // 16 x 2^30 x 2^30: the product overflows int64 to 0, and 0 bytes of data "suffice".
  std::string idx = std::string("\0\0\x08\x03", 4) + std::string("\0\0\0\x10", 4) + std::string("\x40\0\0\0", 4) +
                    std::string("\x40\0\0\0", 4);
  write_bytes(dir / "images", idx);
  write_bytes(dir / "labels", std::string("\0\0\x08\x01\0\0\0\x10", 8) + std::string(16, '\0'));
  CHECK_THROWS_WITH(read_idx((dir / "images").string(), (dir / "labels").string(), 10, "idx"),
                    doctest::Contains("impossible size"));

  auto file = [](const std::string& header, size_t data) {
    std::string b(8, '\0');
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return b + header + std::string(data, '\0');
  };
  const std::string two = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[OFF]}})";
  auto with = [&](const std::string& offsets) {
    std::string h = two;
    h.replace(h.find("OFF"), 3, offsets);
    return h;
  };
  write_bytes(dir / "ok.safetensors", file(with("8,16"), 16));
  CHECK(load_safetensors((dir / "ok.safetensors").string()).tensors.size() == 2);
  write_bytes(dir / "aliased.safetensors", file(with("4,12"), 16));
  CHECK_THROWS_WITH(load_safetensors((dir / "aliased.safetensors").string()), doctest::Contains("aliased data"));
  write_bytes(dir / "trailing.safetensors", file(with("8,16"), 20));
  CHECK_THROWS_WITH(load_safetensors((dir / "trailing.safetensors").string()),
                    doctest::Contains("4 trailing byte(s)"));
  write_bytes(dir / "gap.safetensors", file(with("12,20"), 20));
  CHECK_THROWS_WITH(load_safetensors((dir / "gap.safetensors").string()), doctest::Contains("after a gap"));
  CHECK_THROWS_WITH(load_safetensors(dir.string()), doctest::Contains("is a folder"));
}

TEST_CASE("a symlink loop in an image folder lists each image once") {
  if (!image_decoding_available()) {
    MESSAGE("skipped: built without OpenCV");
    return;
  }
  const fs::path dir = scratch("symlinks");
  fs::create_directories(dir / "cat" / "inner");
  write_image((dir / "cat" / "inner" / "x.png").string(), Image(4, 4, 3));
  fs::create_directory_symlink(dir / "cat", dir / "cat" / "inner" / "loop");
  fs::create_directories(dir / "dog");
  write_image((dir / "dog" / "y.png").string(), Image(4, 4, 3));
  ImageFolderDataset folder(dir.string());
  CHECK(folder.size() == 2);
}
