#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/io/safetensors.h"
#include "engine/ops.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("dismax_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string with_header(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  return out + json + data;
}
}  // namespace

TEST_CASE("round trip of several dtypes, shapes and metadata") {
  const std::string path = temp_path("round.safetensors");
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<int64_t>({7, -8}, {2});
  Tensor c = Tensor::from_vector<double>({0.5}, {});
  save_safetensors(path, {{"layer.weight", a.t()}, {"labels", b}, {"scalar", c}}, {{"model", "resnet34"}});
  const TensorFile f = load_safetensors(path);
  CHECK(f.metadata.at("model") == "resnet34");
  REQUIRE(f.tensors.size() == 3);
  CHECK(f.tensors[0].first == "layer.weight");  // file order
  CHECK(f.at("layer.weight").sizes() == Shape{3, 2});
  CHECK(f.at("layer.weight").to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(f.at("labels").to_vector<int64_t>() == std::vector<int64_t>{7, -8});
  CHECK(f.at("scalar").dim() == 0);
  CHECK_THROWS_WITH_AS(f.at("missing"), doctest::Contains("no tensor named 'missing'"), Error);
  // 8-byte length, then JSON starting with '{'
  const std::string bytes = read_bytes(path);
  CHECK(bytes[8] == '{');
}

TEST_CASE("hostile and damaged files give errors naming the file and tensor") {
  const std::string path = temp_path("bad.safetensors");
  write_bytes(path, "abc");
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("truncated"), Error);
  write_bytes(path, with_header("{\"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", "12345678"));
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("tensor 'x' data [0, 16)"), Error);
  write_bytes(path, with_header("{\"x\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", "12345678"));
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("needs 12"), Error);
  write_bytes(path, with_header("{\"x\": {\"dtype\": \"Q7\", \"shape\": [1], \"data_offsets\": [0, 1]}}", "1"));
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("unsupported dtype Q7"), Error);
  write_bytes(path, with_header("{\"x\": [1, 2", ""));
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("not valid JSON"), Error);
  write_bytes(path, with_header("{\"x\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], "
                                "\"data_offsets\": [0, 0]}}", ""));
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("overflowing shape"), Error);
  std::string huge(8, '\xff');
  write_bytes(path, huge);
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("implausible"), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(temp_path("nope.safetensors")), doctest::Contains("cannot open"), Error);
  // A truncated copy of a valid file.
  save_safetensors(path, {{"w", Tensor::ones({100})}});
  const std::string good = read_bytes(path);
  write_bytes(path, good.substr(0, good.size() - 10));
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("tensor 'w'"), Error);
}

TEST_CASE("a failed save leaves the previous file intact") {
  const std::string path = temp_path("keep.safetensors");
  save_safetensors(path, {{"w", Tensor::ones({4})}});
  CHECK_THROWS_AS(save_safetensors(path, {{"w", Tensor::ones({4})}, {"w", Tensor::zeros({2})}}), Error);
  CHECK(load_safetensors(path).at("w").to_vector<float>() == std::vector<float>{1, 1, 1, 1});
  CHECK_THROWS_AS(save_safetensors(temp_path("missing_dir/x.safetensors"), {{"w", Tensor::ones({1})}}), Error);
}

TEST_CASE("a fuzzed file never crashes the loader: it loads or throws dismax::Error") {
  const std::string path = temp_path("fuzz.safetensors");
  save_safetensors(path, {{"a", Tensor::ones({3, 4})}, {"b", Tensor::from_vector<int64_t>({1, 2}, {2})}},
                   {{"model", "resnet20"}});
  const std::string good = read_bytes(path);
  Generator gen(17);
  int loaded = 0, rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string bytes = good;
    const uint64_t kind = gen.next_below(3);
    if (kind == 0) {  // flip a few bytes, mostly in the header
      for (int k = 0; k < 1 + static_cast<int>(gen.next_below(4)); ++k) {
        const size_t at = gen.next_below(std::min<uint64_t>(bytes.size(), 200));
        bytes[at] = static_cast<char>(gen.next_below(256));
      }
    } else if (kind == 1) {  // truncate anywhere
      bytes.resize(gen.next_below(bytes.size()));
    } else {  // a random header length
      for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(gen.next_below(256));
    }
    write_bytes(path, bytes);
    try {
      load_safetensors(path);
      ++loaded;
    } catch (const Error&) {
      ++rejected;
    }
  }
  CHECK(loaded + rejected == 400);
  CHECK(rejected > 200);
}
