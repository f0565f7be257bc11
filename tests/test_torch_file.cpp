#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/grad_mode.h"
#include "engine/io/pickle.h"
#include "engine/io/safetensors.h"
#include "engine/io/torch_file.h"
#include "experiment/model_with_loss.h"
#include "losses/heads.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(DISMAX_FIXTURE_DIR) + "/pth";

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("dismax_pth_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Bit-for-bit: the same dtype, shape and bytes (NaN payloads included).
void check_same(const Tensor& a, const Tensor& b, const std::string& name) {
  INFO(name);
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.sizes() == b.sizes());
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  CHECK(std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<size_t>(ca.numel()) * ca.itemsize()) == 0);
}

// Every tensor of `file` against expected.safetensors' "<stem>/<name>", and no other.
void check_against_expected(const TensorFile& file, const std::string& stem) {
  const TensorFile expected = load_safetensors(kDir + "/expected.safetensors");
  size_t count = 0;
  for (const auto& [name, t] : expected.tensors) {
    if (name.rfind(stem + "/", 0) != 0) continue;
    ++count;
    check_same(file.at(name.substr(stem.size() + 1)), t, name);
  }
  CHECK(file.tensors.size() == count);
  CHECK(count > 0);
}

}  // namespace

TEST_SUITE("torch_file") {

TEST_CASE("torch.save files of every supported dtype read exactly, half precision widened to float32") {
  if (!torch_files_supported()) return;
  const TensorFile f = load_torch_file(kDir + "/dtypes.pth");
  check_against_expected(f, "dtypes");
  CHECK(f.at("f16").dtype() == DType::Float32);
  CHECK(f.at("bf16").dtype() == DType::Float32);
  CHECK(f.at("flag").dtype() == DType::UInt8);
  CHECK(f.at("i64").dtype() == DType::Int64);
  const auto half = f.at("f16").to_vector<float>();
  CHECK(half[4] == 65504.0f);
  CHECK(std::isinf(half[7]));
  CHECK(half[5] == doctest::Approx(5.96e-8).epsilon(0.01));  // a subnormal half
  std::vector<std::string> order;
  for (const auto& [n, t] : f.tensors) order.push_back(n);
  CHECK(order == std::vector<std::string>{"f32", "f64", "f16", "bf16", "i64", "flag", "u8"});  // the pickle's order
}

TEST_CASE("views of a shared storage read with their offsets and strides; 0-d and empty tensors too") {
  if (!torch_files_supported()) return;
  const TensorFile f = load_torch_file(kDir + "/views.pth");
  check_against_expected(f, "views");
  CHECK(f.at("transposed").sizes() == Shape{6, 4});
  CHECK(f.at("strided").to_vector<float>() == std::vector<float>{7, 9, 11, 13, 15, 17, 19, 21, 23});
  CHECK(f.at("scalar").dim() == 0);
  CHECK(f.at("empty").sizes() == Shape{0, 3});
}

TEST_CASE("a training checkpoint's state_dict of nn.Parameters is found under its key") {
  if (!torch_files_supported()) return;
  const TensorFile f = load_torch_file(kDir + "/wrapped.pth");
  check_against_expected(f, "wrapped");
  CHECK(f.metadata.at("state_dict_key") == "net");
}

TEST_CASE("the original's DataParallel DisMax checkpoint evaluates as PyTorch does, thresholds included") {
  if (!torch_files_supported()) return;
  const std::string path = kDir + "/resnet20_dismax.pth";
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("carries no description of its model"), Error);
  // Without the width, the architecture is the published one: every mismatch is listed with both shapes.
  CHECK_THROWS_WITH_AS(load_model(path, {"resnet20", "dismax", "cifar10", ""}),
                       doctest::Contains("conv1.weight [4, 3, 3, 3] (model: [16, 3, 3, 3])"), Error);
  CheckpointDescription d{"", "", "", "data~cifar10+model~resnet20+loss~dismax_std_std_fpr"};
  d.width = 0.25;
  LoadedModel loaded = load_model(path, d);
  CHECK(loaded.model->arch() == "resnet20");
  CHECK(loaded.loss.family == "dismax");
  CHECK(loaded.loss.fpr);
  CHECK(loaded.metadata.at("dataset") == "cifar10");
  CHECK(loaded.metadata.at("stripped_prefix") == "module.");
  const TensorFile io = load_safetensors(kDir + "/resnet20_dismax_io.safetensors");
  NoGradGuard guard;
  const auto ours = loaded.model->forward(io.at("input")).to_vector<double>();
  const auto torch_logits = io.at("logits").to_vector<double>();
  REQUIRE(ours.size() == torch_logits.size());
  for (size_t i = 0; i < ours.size(); ++i) CHECK(ours[i] == doctest::Approx(torch_logits[i]).epsilon(1e-4));
  auto* head = dynamic_cast<DisMaxHead*>(&loaded.model->head());
  REQUIRE(head != nullptr);
  CHECK(head->validationset_available.item() == 1.0);
  const auto stored = head->precomputed_thresholds.to_vector<double>();
  const auto written = io.at("thresholds").to_vector<double>();
  for (size_t i = 25; i < 50; ++i) CHECK(stored[i] == doctest::Approx(written[i]));
  CHECK(std::isnan(stored[0]));
  // The flags must not contradict a checkpoint that describes itself.
  CHECK_THROWS_WITH_AS(load_model(std::string(DISMAX_FIXTURE_DIR) + "/torch_checkpoint.safetensors", {"resnet34"}),
                       doctest::Contains("its metadata says model 'resnet20' but the flags say 'resnet34'"), Error);
}

TEST_CASE("save_torch_file round-trips every dtype, and writes the original's bool flag") {
  if (!torch_files_supported()) return;
  const TensorFile f = load_torch_file(kDir + "/dtypes.pth");
  const std::string path = temp_path("round.pth");
  save_torch_file(path, f.tensors, {"flag"});
  const TensorFile back = load_torch_file(path);
  REQUIRE(back.tensors.size() == f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    CHECK(back.tensors[i].first == f.tensors[i].first);
    check_same(back.tensors[i].second, f.tensors[i].second, f.tensors[i].first);
  }
  CHECK(read(path).find("BoolStorage") != std::string::npos);
  // Views are written contiguous.
  const TensorFile views = load_torch_file(kDir + "/views.pth");
  save_torch_file(path, views.tensors);
  const TensorFile views_back = load_torch_file(path);
  for (const auto& [name, t] : views.tensors) check_same(views_back.at(name), t, name);
  CHECK_THROWS_WITH_AS(save_torch_file(path, {{"x", Tensor::ones({2})}}, {"x"}), doctest::Contains("not a uint8 flag"),
                       Error);
}

TEST_CASE("files that are not state_dicts, or would run code, are refused with one line naming the cause") {
  if (!torch_files_supported()) {
    CHECK_THROWS_WITH_AS(load_torch_file(kDir + "/dtypes.pth"), doctest::Contains("needs libzip"), Error);
    return;
  }
  CHECK_THROWS_WITH_AS(load_torch_file(kDir + "/evil_global.pth"),
                       doctest::Contains("pickle global 'posix.system' is not one a state_dict pickle needs"), Error);
  CHECK_THROWS_WITH_AS(load_torch_file(kDir + "/evil_opcode.pth"), doctest::Contains("0x32 (DUP)"), Error);
  CHECK_THROWS_WITH_AS(load_torch_file(kDir + "/legacy.pth"), doctest::Contains("legacy format"), Error);
  CHECK_THROWS_WITH_AS(load_torch_file(kDir + "/expected.safetensors"), doctest::Contains("no zip signature"), Error);
  const std::string bytes = read(kDir + "/dtypes.pth");
  for (size_t cut : {bytes.size() / 2, bytes.size() - 30, size_t{10}}) {
    INFO(cut);
    CHECK_THROWS_AS(parse_torch_file(bytes.substr(0, cut), "cut.pth"), Error);
  }
  // A storage record one byte short: the archive is rebuilt so that the zip itself stays valid.
  const TensorFile f = load_torch_file(kDir + "/dtypes.pth");
  const std::string path = temp_path("short.pth");
  save_torch_file(path, {{"a", Tensor::ones({4})}});
  std::string archive = read(path);
  const auto at = archive.find(std::string("\x00\x00\x80\x3f", 4));  // inside storage "0"'s data
  REQUIRE(at != std::string::npos);
  archive[at + 3] = 0x40;  // damage the data: libzip's CRC check must notice
  CHECK_THROWS_WITH_AS(parse_torch_file(archive, "crc.pth"), doctest::Contains("damaged"), Error);
  // The model-level error names the file.
  CHECK_THROWS_WITH_AS(load_model(kDir + "/dtypes.pth", {"resnet20", "dismax", "cifar10", ""}),
                       doctest::Contains("dtypes.pth: does not fit the model"), Error);
}

TEST_CASE("a data.pkl with its storages given reads views as torch does (the fuzzer's entry point)") {
  const std::string pkl = read(std::string(DISMAX_FIXTURE_DIR) + "/../fuzz/corpus/fuzz_torch_file/state_dict.pkl");
  std::vector<float> s0(16), s1(16);
  for (int i = 0; i < 16; ++i) s0[i] = static_cast<float>(i), s1[i] = static_cast<float>(100 + i);
  auto bytes = [](const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), 64); };
  const TensorFile f = parse_state_dict_pickle(pkl, {{"0", bytes(s0)}, {"1", bytes(s1)}}, "s.pkl");
  CHECK(f.at("w").to_vector<float>() == s0);
  CHECK(f.at("t").to_vector<float>() == std::vector<float>{1, 5, 2, 6, 3, 7});  // offset 1, strides (1, 4)
  CHECK(f.at("b").to_vector<float>() == std::vector<float>{103, 105, 107, 109, 111});
  CHECK_THROWS_WITH_AS(parse_state_dict_pickle(pkl, {{"0", bytes(s0)}}, "s.pkl"),
                       doctest::Contains("s.pkl: storage '1' is missing"), Error);
  CHECK_THROWS_WITH_AS(parse_state_dict_pickle(pkl, {{"0", bytes(s0)}, {"1", "short"}}, "s.pkl"),
                       doctest::Contains("holds 5 bytes; its tensors need 64"), Error);
}

TEST_CASE("the restricted unpickler refuses a global even when it is never called") {
  pickle::Policy p;
  p.allowed_globals = {"collections.OrderedDict"};
  p.kind = "a test pickle";
  CHECK_THROWS_WITH_AS(pickle::load(std::string("\x80\x02" "cbuiltins\neval\n.", 18), "g.pkl", p),
                       doctest::Contains("g.pkl: pickle global 'builtins.eval' is not one a test pickle needs"), Error);
  CHECK_THROWS_WITH_AS(pickle::load(std::string("\x80\x02" "X\x01\x00\x00\x00" "aQ.", 11), "q.pkl", p),
                       doctest::Contains("(BINPERSID)"), Error);
  // The default policy still reads data pickles as before.
  CHECK(pickle::load(std::string("\x80\x02" "K\x05.", 5), "d.pkl")->i == 5);
}

}  // TEST_SUITE
