#include "engine/io/safetensors.h"

#include "engine/io/file.h"


#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace dismax {

namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct DTypeCode {
  const char* code;
  DType dtype;
};
// BOOL (PyTorch's bool tensors, one byte each) reads as UInt8; writing uses U8.
constexpr DTypeCode kCodes[] = {{"F32", DType::Float32}, {"F64", DType::Float64}, {"F16", DType::Float16},
                                {"BF16", DType::BFloat16}, {"I64", DType::Int64}, {"U8", DType::UInt8},
                                {"BOOL", DType::UInt8}};

const char* code_of(DType dtype) {
  for (const auto& c : kCodes)
    if (c.dtype == dtype) return c.code;
  DISMAX_FAIL("safetensors: no code for dtype ", dtype_name(dtype));
}

// The "__metadata__" string map of a parsed header (empty when absent).
std::map<std::string, std::string> metadata_of(const nlohmann::json& header, const std::string& path) {
  std::map<std::string, std::string> metadata;
  if (!header.contains("__metadata__")) return metadata;
  const nlohmann::json& entry = header["__metadata__"];
  DISMAX_CHECK(entry.is_object(), path, ": __metadata__ is not an object");
  for (auto m = entry.begin(); m != entry.end(); ++m) {
    DISMAX_CHECK(m.value().is_string(), path, ": metadata value for '", m.key(), "' is not a string");
    metadata[m.key()] = m.value().get<std::string>();
  }
  return metadata;
}

}  // namespace

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  std::error_code ec;
  DISMAX_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a folder, not a safetensors file");
  std::ifstream in(path, std::ios::binary);
  DISMAX_CHECK(in.good(), path, ": cannot open (", std::strerror(errno), ")");
  unsigned char length[8] = {0};
  in.read(reinterpret_cast<char*>(length), 8);
  DISMAX_CHECK(in.gcount() == 8, path, ": not a safetensors file (truncated)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | length[i];
  DISMAX_CHECK(header_len <= kMaxHeaderBytes, path, ": header length ", header_len, " is implausible (corrupt file)");
  std::string header_text(header_len, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_len));
  DISMAX_CHECK(static_cast<uint64_t>(in.gcount()) == header_len, path, ": header runs past the end of the file (truncated)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    DISMAX_FAIL(path, ": header is not valid JSON (", e.what(), ")");
  }
  DISMAX_CHECK(header.is_object(), path, ": header is not a JSON object");
  return metadata_of(header, path);
}

bool TensorFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& p) { return p.first == name; });
}

const Tensor& TensorFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  DISMAX_FAIL(source, ": no tensor named '", name, "'");
}

TensorFile load_safetensors(const std::string& path) { return parse_safetensors(read_whole_file(path, "safetensors file"), path); }

TensorFile parse_safetensors(const std::string& bytes, const std::string& path) {
  DISMAX_CHECK(bytes.size() >= 8, path, ": not a safetensors file (", bytes.size(), " bytes, truncated)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  DISMAX_CHECK(header_len <= kMaxHeaderBytes, path, ": header length ", header_len, " is implausible (corrupt file)");
  DISMAX_CHECK(8 + header_len <= bytes.size(), path, ": header of ", header_len, " bytes runs past the end of the ",
               bytes.size(), "-byte file (truncated)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
  } catch (const nlohmann::json::exception& e) {
    DISMAX_FAIL(path, ": header is not valid JSON (", e.what(), ")");
  }
  DISMAX_CHECK(header.is_object(), path, ": header is not a JSON object");
  const char* data = bytes.data() + 8 + header_len;
  const uint64_t data_size = bytes.size() - 8 - header_len;

  TensorFile file;
  file.source = path;
  file.metadata = metadata_of(header, path);
  std::vector<std::pair<uint64_t, std::pair<std::string, Tensor>>> ordered;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") continue;
    DISMAX_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                     entry.contains("data_offsets"),
                 path, ": tensor '", name, "' needs dtype, shape and data_offsets");
    DISMAX_CHECK(entry["dtype"].is_string(), path, ": tensor '", name, "' has a non-string dtype");
    const std::string code = entry["dtype"].get<std::string>();
    const auto found = std::find_if(std::begin(kCodes), std::end(kCodes), [&](const DTypeCode& c) { return code == c.code; });
    DISMAX_CHECK(found != std::end(kCodes), path, ": tensor '", name, "' has unsupported dtype ", code);
    DISMAX_CHECK(found->dtype != DType::Float16 && found->dtype != DType::BFloat16, path, ": tensor '", name,
                 "' is ", code, "; half-precision tensors are not supported yet");
    const nlohmann::json& js = entry["shape"];
    DISMAX_CHECK(js.is_array() && js.size() <= 16, path, ": tensor '", name, "' has an invalid shape");
    Shape shape;
    uint64_t numel = 1;
    for (const auto& d : js) {
      DISMAX_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), path, ": tensor '",
                   name, "' has a negative or non-integer dimension");
      const uint64_t v = d.get<uint64_t>();
      DISMAX_CHECK(!__builtin_mul_overflow(numel, v, &numel) && v < (uint64_t{1} << 48), path, ": tensor '", name,
                   "' has an overflowing shape");
      shape.push_back(static_cast<int64_t>(v));
    }
    const nlohmann::json& off = entry["data_offsets"];
    DISMAX_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                 path, ": tensor '", name, "' has invalid data_offsets");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    uint64_t nbytes = 0;
    DISMAX_CHECK(!__builtin_mul_overflow(numel, dtype_size(found->dtype), &nbytes), path, ": tensor '", name,
                 "' is too large");
    DISMAX_CHECK(begin <= end && end <= data_size, path, ": tensor '", name, "' data [", begin, ", ", end,
                 ") lies outside the ", data_size, "-byte data section (truncated or corrupt file)");
    DISMAX_CHECK(end - begin == nbytes, path, ": tensor '", name, "' has ", end - begin, " bytes of data but shape ",
                 shape_str(shape), " of ", code, " needs ", nbytes);
    Tensor t = Tensor::empty(shape, found->dtype);
    if (nbytes > 0) std::memcpy(t.raw_data(), data + begin, nbytes);
    ordered.push_back({begin, {name, t}});
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first
                              : a.second.second.numel() * a.second.second.itemsize() <
                                    b.second.second.numel() * b.second.second.itemsize();
  });
  // As the reference implementation: the tensors tile the data section exactly, in offset order, with no
  // byte shared by two tensors (aliasing) and none left over (trailing bytes).
  uint64_t covered = 0;
  for (const auto& [begin, entry] : ordered) {
    const uint64_t nbytes = static_cast<uint64_t>(entry.second.numel()) * entry.second.itemsize();
    DISMAX_CHECK(begin == covered, path, ": tensor '", entry.first, "' starts at byte ", begin, " of the data section, ",
                 begin < covered ? "inside the previous tensor (aliased data)" : "after a gap", "; expected ", covered);
    covered = begin + nbytes;
  }
  DISMAX_CHECK(covered == data_size, path, ": ", data_size - covered, " trailing byte(s) after the last tensor's data");
  for (auto& [offset, entry] : ordered) file.tensors.push_back(std::move(entry));
  return file;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DISMAX_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    DISMAX_CHECK(name != "__metadata__" && !header.contains(name), path, ": duplicate or reserved tensor name '",
                 name, "'");
    Tensor h = t.detach().to(Device::cpu()).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(h.numel()) * h.itemsize();
    header[name] = {{"dtype", code_of(h.dtype())}, {"shape", h.sizes()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    host.push_back(h);
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keep the data 8-byte aligned, as the reference writer does
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((static_cast<uint64_t>(json.size()) >> (8 * i)) & 0xff);
  bytes += json;
  bytes.reserve(bytes.size() + offset);
  for (const Tensor& h : host) bytes.append(static_cast<const char*>(h.raw_data()), h.numel() * h.itemsize());
  write_file_atomically(path, bytes);
}

}  // namespace dismax
