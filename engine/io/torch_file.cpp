#include "engine/io/torch_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>

#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/io/pickle.h"

#ifdef DISMAX_WITH_LIBZIP
#include <zip.h>
#endif

namespace dismax {

namespace {

using pickle::Value;
using pickle::ValuePtr;

// How a storage class is stored in the file and read into a tensor.
struct StorageType {
  const char* global;
  size_t element_size;
  DType file_dtype;  // Float16/BFloat16 are widened to Float32
  DType tensor_dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", 4, DType::Float32, DType::Float32},
    {"torch.DoubleStorage", 8, DType::Float64, DType::Float64},
    {"torch.HalfStorage", 2, DType::Float16, DType::Float32},
    {"torch.BFloat16Storage", 2, DType::BFloat16, DType::Float32},
    {"torch.LongStorage", 8, DType::Int64, DType::Int64},
    {"torch.BoolStorage", 1, DType::UInt8, DType::UInt8},
    {"torch.ByteStorage", 1, DType::UInt8, DType::UInt8},
};
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr uint64_t kMaxPickleBytes = uint64_t{256} << 20;

pickle::Policy state_dict_policy() {
  pickle::Policy p;
  p.allowed_globals = {kOrderedDict, kRebuildTensor, kRebuildParameter};
  for (const auto& s : kStorageTypes) p.allowed_globals.emplace_back(s.global);
  p.data_opcodes_only = true;
  p.persistent_ids = true;
  p.kind = "a state_dict pickle";
  return p;
}

ValuePtr load_state_dict_pickle(const std::string& bytes, const std::string& source) {
  return pickle::load(bytes, source + " (data.pkl)", state_dict_policy());
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ffu, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

#ifdef DISMAX_WITH_LIBZIP

// A zip archive opened from memory (libzip). Entries are read whole, after checking their declared size
// against what the caller expects, so that a small archive cannot expand into an arbitrary allocation.
class ZipReader {
 public:
  // The archive in `bytes` (which must outlive the reader), or with `from_file`, the file named `source`.
  ZipReader(const std::string& bytes, const std::string& source, bool from_file = false) : source_(source) {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = from_file ? zip_source_file_create(source.c_str(), 0, -1, &error)
                                  : zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
    if (src != nullptr) archive_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
    if (archive_ == nullptr) {
      const std::string why = zip_error_strerror(&error);
      if (src != nullptr) zip_source_free(src);
      zip_error_fini(&error);
      DISMAX_FAIL(source, ": not a readable zip archive (", why, ")");
    }
    zip_error_fini(&error);
  }
  ~ZipReader() { zip_discard(archive_); }
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    const zip_int64_t n = zip_get_num_entries(archive_, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(archive_, static_cast<zip_uint64_t>(i), 0);
      if (name != nullptr) out.emplace_back(name);
    }
    return out;
  }
  bool has(const std::string& name) const { return zip_name_locate(archive_, name.c_str(), 0) >= 0; }
  uint64_t size_of(const std::string& name) const {
    zip_stat_t st;
    zip_stat_init(&st);
    DISMAX_CHECK(zip_stat(archive_, name.c_str(), 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE), source_,
                 ": zip record '", name, "' is missing");
    return st.size;
  }
  // The whole record; its size must be at most `max_bytes`, and no more than deflate can expand its
  // compressed size to (1032:1), so that a forged size cannot make it allocate what the data cannot fill.
  std::string read(const std::string& name, uint64_t max_bytes) const {
    std::string out(checked_size(name, max_bytes), '\0');
    read_into(name, out.data(), out.size());
    return out;
  }
  // Fills `dst` with the record, which must hold exactly `size` bytes.
  void read_into(const std::string& name, char* dst, uint64_t size) const {
    DISMAX_CHECK(checked_size(name, size) == size, source_, ": zip record '", name, "' holds ", size_of(name),
                 " bytes, not ", size);
    zip_file_t* f = zip_fopen(archive_, name.c_str(), 0);
    DISMAX_CHECK(f != nullptr, source_, ": cannot open zip record '", name, "' (", zip_strerror(archive_), ")");
    uint64_t got = 0;
    while (got < size) {
      const zip_int64_t n = zip_fread(f, dst + got, size - got);
      if (n <= 0) break;
      got += static_cast<uint64_t>(n);
    }
    char probe;
    const bool clean_end = got == size && zip_fread(f, &probe, 1) == 0;  // also makes libzip check the CRC
    const std::string why = zip_file_strerror(f);
    zip_fclose(f);
    DISMAX_CHECK(clean_end, source_, ": zip record '", name, "' is damaged (", got, " of ", size, " bytes read: ",
                 why, ")");
  }

 private:
  uint64_t checked_size(const std::string& name, uint64_t max_bytes) const {
    const uint64_t size = size_of(name);
    DISMAX_CHECK(size <= max_bytes, source_, ": zip record '", name, "' declares ", size, " bytes, more than the ",
                 max_bytes, " it may hold");
    zip_stat_t st;
    zip_stat_init(&st);
    zip_stat(archive_, name.c_str(), 0, &st);
    DISMAX_CHECK(!(st.valid & ZIP_STAT_COMP_SIZE) || size / 1032 <= st.comp_size + 1, source_, ": zip record '", name,
                 "' declares ", size, " bytes from ", st.comp_size, " compressed ones (damaged, or a zip bomb)");
    return size;
  }

  zip_t* archive_ = nullptr;
  std::string source_;
};

#endif  // DISMAX_WITH_LIBZIP

// Turns the pickled object of a torch.save file into tensors, reading storages through `read_storage`.
class StateDictBuilder {
 public:
  // Fills `dst` with storage `key`'s `bytes` bytes (throws when the record is missing or of another size).
  using StorageReader = std::function<void(const std::string& key, uint64_t bytes, char* dst)>;
  StateDictBuilder(std::string source, StorageReader read_storage)
      : source_(std::move(source)), read_storage_(std::move(read_storage)) {}

  TensorFile build(const ValuePtr& root) {
    TensorFile file;
    file.source = source_;
    const Value* dict = state_dict_of(root, file);
    for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
      const Value& key = *dict->items[i];
      DISMAX_CHECK(key.kind == Value::Kind::Str, source_, ": a state_dict key is not a string");
      DISMAX_CHECK(!file.contains(key.s), source_, ": tensor '", key.s, "' appears twice");
      file.tensors.emplace_back(key.s, tensor_of(*dict->items[i + 1], key.s));
    }
    return file;
  }

 private:
  static bool is_call_of(const Value& v, const char* global) {
    return v.kind == Value::Kind::Call && v.callable && v.callable->kind == Value::Kind::Global &&
           v.callable->s == global;
  }
  static bool is_tensor(const Value& v) { return is_call_of(v, kRebuildTensor) || is_call_of(v, kRebuildParameter); }
  static bool holds_tensors(const Value& v) {
    if (v.kind != Value::Kind::Dict || v.items.empty()) return false;
    for (size_t i = 1; i < v.items.size(); i += 2)
      if (!is_tensor(*v.items[i])) return false;
    return true;
  }

  const Value* state_dict_of(const ValuePtr& root, TensorFile& file) const {
    DISMAX_CHECK(root->kind == Value::Kind::Dict, source_,
                 ": the saved object is not a dict; save a state_dict (torch.save(model.state_dict(), path))");
    if (holds_tensors(*root)) return root.get();
    for (const char* key : {"state_dict", "model_state_dict", "model", "net", "state"}) {
      const ValuePtr* inner = root->find(key);
      if (inner != nullptr && holds_tensors(**inner)) {
        file.metadata["state_dict_key"] = key;
        return inner->get();
      }
    }
    std::string keys;
    for (size_t i = 0; i < root->items.size() && i < 16; i += 2) {
      const Value& k = *root->items[i];
      keys += (keys.empty() ? "" : ", ") + (k.kind == Value::Kind::Str ? k.s : std::string("?"));
      if (!is_tensor(*root->items[i + 1]) && k.kind == Value::Kind::Str) keys += " (not a tensor)";
    }
    DISMAX_FAIL(source_, ": the saved dict is not a state_dict (keys: ", keys.empty() ? "none" : keys,
                "); expected tensors by name, or one under 'state_dict', 'model_state_dict', 'model' or 'net'");
  }

  static const std::vector<ValuePtr>& tuple_items(const ValuePtr& v) {
    static const std::vector<ValuePtr> none;
    return v && v->kind == Value::Kind::Tuple ? v->items : none;
  }
  int64_t int_of(const ValuePtr& v, const std::string& name, const char* what) const {
    DISMAX_CHECK(v && v->kind == Value::Kind::Int, source_, ": tensor '", name, "': its ", what, " is not an integer");
    return v->i;
  }
  std::vector<int64_t> ints_of(const ValuePtr& v, const std::string& name, const char* what) const {
    DISMAX_CHECK(v && v->kind == Value::Kind::Tuple && v->items.size() <= 16, source_, ": tensor '", name, "': its ",
                 what, " is not a tuple of at most 16 integers");
    std::vector<int64_t> out;
    for (const auto& x : v->items) {
      out.push_back(int_of(x, name, what));
      DISMAX_CHECK(out.back() >= 0 && out.back() < (int64_t{1} << 48), source_, ": tensor '", name, "': its ", what,
                   " holds ", out.back());
    }
    return out;
  }

  Tensor tensor_of(const Value& v, const std::string& name) {
    DISMAX_CHECK(is_tensor(v), source_, ": entry '", name, "' is not a tensor");
    if (is_call_of(v, kRebuildParameter)) {
      const auto& a = tuple_items(v.args);
      DISMAX_CHECK(!a.empty() && is_call_of(*a[0], kRebuildTensor), source_, ": tensor '", name,
                   "': a parameter without its data");
      return tensor_of(*a[0], name);
    }
    const auto& a = tuple_items(v.args);
    DISMAX_CHECK(a.size() >= 4 && a[0]->kind == Value::Kind::Persistent, source_, ": tensor '", name,
                 "': not rebuilt from a storage (offset, size, stride)");
    const auto& id = tuple_items(a[0]->args);
    DISMAX_CHECK(id.size() == 5 && id[0]->kind == Value::Kind::Str && id[0]->s == "storage" &&
                     id[1]->kind == Value::Kind::Global && id[2]->kind == Value::Kind::Str,
                 source_, ": tensor '", name, "': its storage reference is not ('storage', type, key, location, numel)");
    const StorageType* type = nullptr;
    for (const auto& s : kStorageTypes)
      if (id[1]->s == s.global) type = &s;
    DISMAX_CHECK(type != nullptr, source_, ": tensor '", name, "': storage type ", id[1]->s, " is not supported");
    const std::string& key = id[2]->s;
    const int64_t numel = int_of(id[4], name, "storage size");
    DISMAX_CHECK(numel >= 0 && numel < (int64_t{1} << 48), source_, ": tensor '", name, "': storage size ", numel);
    const int64_t offset = int_of(a[1], name, "storage offset");
    const std::vector<int64_t> size = ints_of(a[2], name, "size"), stride = ints_of(a[3], name, "stride");
    DISMAX_CHECK(size.size() == stride.size(), source_, ": tensor '", name, "': ", size.size(), " sizes but ",
                 stride.size(), " strides");
    Shape shape(size.begin(), size.end());
    Tensor t = Tensor::empty(shape, type->tensor_dtype);
    int64_t count = 1;
    __int128 last = offset;  // the farthest element the view reaches
    bool dense = offset == 0;  // the view is its whole storage, in order
    int64_t expected_stride = 1;
    for (size_t d = size.size(); d-- > 0;) {
      count *= size[d];
      if (size[d] > 0) last += static_cast<__int128>(size[d] - 1) * stride[d];
      dense &= size[d] == 1 || stride[d] == expected_stride;
      expected_stride *= size[d];
    }
    dense &= count == numel && type->file_dtype == type->tensor_dtype;
    if (count == 0) return t;
    DISMAX_CHECK(offset >= 0 && last < numel, source_, ": tensor '", name, "' (shape ", shape_str(shape),
                 ", offset ", offset, ") reaches past the end of its ", numel, "-element storage '", key, "'");
    if (dense && storages_.count(key) == 0) {  // a state_dict's usual tensor: read straight into it
      read_storage_(key, static_cast<uint64_t>(numel) * type->element_size, static_cast<char*>(t.raw_data()));
      return t;
    }
    gather(storage_bytes(key, *type, numel, name), *type, offset, size, stride, t);
    return t;
  }

  const std::string& storage_bytes(const std::string& key, const StorageType& type, int64_t numel,
                                   const std::string& name) {
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      const uint64_t bytes = static_cast<uint64_t>(numel) * type.element_size;
      std::string data(bytes, '\0');
      read_storage_(key, bytes, data.data());
      it = storages_.emplace(key, Storage{type.global, numel, std::move(data)}).first;
    }
    DISMAX_CHECK(it->second.type == type.global && it->second.numel == numel, source_, ": tensor '", name,
                 "': storage '", key, "' is referenced as two different types or sizes");
    return it->second.bytes;
  }

  // Copies the strided view into the contiguous `out`, converting half precision to float32; rows whose
  // last-dimension stride is 1 are copied whole.
  static void gather(const std::string& storage, const StorageType& type, int64_t offset,
                     const std::vector<int64_t>& size, const std::vector<int64_t>& stride, Tensor& out) {
    const char* src = storage.data();
    char* dst = static_cast<char*>(out.raw_data());
    const size_t out_size = dtype_size(type.tensor_dtype);
    const bool widen = type.file_dtype == DType::Float16 || type.file_dtype == DType::BFloat16;
    const size_t dims = size.size();
    const int64_t row = dims == 0 ? 1 : size.back(), step = dims == 0 ? 1 : stride.back();
    const int64_t rows = out.numel() / row;
    std::vector<int64_t> index(dims > 0 ? dims - 1 : 0, 0);
    int64_t at = offset;
    for (int64_t r = 0; r < rows; ++r) {
      char* out_row = dst + static_cast<size_t>(r * row) * out_size;
      if (!widen && step == 1) {
        std::memcpy(out_row, src + static_cast<size_t>(at) * type.element_size, static_cast<size_t>(row) * out_size);
      } else {
        for (int64_t k = 0; k < row; ++k) {
          const char* e = src + static_cast<size_t>(at + k * step) * type.element_size;
          if (widen) {
            uint16_t h;
            std::memcpy(&h, e, 2);
            const float f = type.file_dtype == DType::Float16 ? half_to_float(h) : bfloat16_to_float(h);
            std::memcpy(out_row + k * out_size, &f, 4);
          } else {
            std::memcpy(out_row + k * out_size, e, out_size);
          }
        }
      }
      for (size_t d = index.size(); d-- > 0;) {  // odometer over the leading dimensions
        if (++index[d] < size[d]) {
          at += stride[d];
          break;
        }
        at -= (size[d] - 1) * stride[d];
        index[d] = 0;
      }
    }
  }

  struct Storage {
    std::string type;
    int64_t numel;
    std::string bytes;
  };
  std::string source_;
  StorageReader read_storage_;
  std::map<std::string, Storage> storages_;
};

// ---- writing: a protocol-2 pickle of an OrderedDict of _rebuild_tensor_v2 calls

class PickleWriter {
 public:
  void proto() { out_ += "\x80\x02"; }
  void stop() { out_ += '.'; }
  void mark() { out_ += '('; }
  void op(char c) { out_ += c; }
  void global(const std::string& module, const std::string& name) { out_ += "c" + module + "\n" + name + "\n"; }
  void text(const std::string& s) {
    out_ += 'X';
    le(s.size(), 4);
    out_ += s;
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      out_ += "\x8a\x08";  // LONG1 of 8 bytes
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void ints(const Shape& values) {
    mark();
    for (int64_t v : values) integer(v);
    op('t');
  }
  const std::string& bytes() const { return out_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string out_;
};

[[maybe_unused]] const char* storage_class_of(DType dtype, bool as_bool, const std::string& path, const std::string& name) {
  if (as_bool) {
    DISMAX_CHECK(dtype == DType::UInt8, path, ": tensor '", name, "' is ", dtype_name(dtype), ", not a uint8 flag");
    return "BoolStorage";
  }
  switch (dtype) {
    case DType::Float32: return "FloatStorage";
    case DType::Float64: return "DoubleStorage";
    case DType::Int64: return "LongStorage";
    case DType::UInt8: return "ByteStorage";
    default: DISMAX_FAIL(path, ": tensor '", name, "' is ", dtype_name(dtype), ", which is not written to .pth files");
  }
}

}  // namespace

bool looks_like_zip(const std::string& bytes) { return bytes.rfind("PK\x03\x04", 0) == 0; }

TensorFile parse_state_dict_pickle(const std::string& data_pkl, const std::map<std::string, std::string>& storages,
                                   const std::string& source) {
  StateDictBuilder builder(source, [&](const std::string& key, uint64_t expected, char* dst) {
    auto it = storages.find(key);
    DISMAX_CHECK(it != storages.end(), source, ": storage '", key, "' is missing");
    DISMAX_CHECK(it->second.size() == expected, source, ": storage '", key, "' holds ", it->second.size(),
                 " bytes; its tensors need ", expected);
    std::memcpy(dst, it->second.data(), expected);
  });
  return builder.build(load_state_dict_pickle(data_pkl, source));
}

#ifdef DISMAX_WITH_LIBZIP

bool torch_files_supported() { return true; }

namespace {

// The legacy format (PyTorch < 1.6) is a bare pickle stream starting with a pickled magic number.
void check_signature(const std::string& head, const std::string& source) {
  DISMAX_CHECK(!(head.size() > 2 && head[0] == '\x80' && head[1] == '\x02' && head[2] == '\x8a'), source,
               ": a torch.save file in the legacy format (PyTorch < 1.6); re-save it with a current PyTorch");
  DISMAX_CHECK(looks_like_zip(head), source, ": not a torch.save file (no zip signature)");
}

TensorFile read_archive(const ZipReader& zip, const std::string& source) {
  std::string prefix;
  int found = 0;
  for (const std::string& name : zip.names()) {
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      prefix = name.substr(0, slash + 1);
      ++found;
    }
  }
  DISMAX_CHECK(found == 1, source, found == 0 ? ": not a torch.save file (no <archive>/data.pkl record)"
                                              : ": holds several <archive>/data.pkl records (several objects?)");
  if (zip.has(prefix + "byteorder")) {
    const std::string order = zip.read(prefix + "byteorder", 16);
    DISMAX_CHECK(order == "little", source, ": storages are in '", order, "' byte order; only little-endian is read");
  }
  StateDictBuilder builder(source, [&](const std::string& key, uint64_t expected, char* dst) {
    const std::string record = prefix + "data/" + key;
    DISMAX_CHECK(key.find('/') == std::string::npos && zip.has(record), source, ": storage record '", record,
                 "' is missing");
    const uint64_t size = zip.size_of(record);
    DISMAX_CHECK(size == expected, source, ": storage record '", record, "' holds ", size, " bytes; its tensors need ",
                 expected, " (truncated or damaged file)");
    zip.read_into(record, dst, expected);
  });
  return builder.build(load_state_dict_pickle(zip.read(prefix + "data.pkl", kMaxPickleBytes), source));
}

}  // namespace

TensorFile parse_torch_file(const std::string& bytes, const std::string& source) {
  check_signature(bytes.substr(0, 4), source);
  return read_archive(ZipReader(bytes, source), source);
}

TensorFile load_torch_file(const std::string& path) {
  std::error_code ec;
  DISMAX_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a folder, not a PyTorch checkpoint");
  std::ifstream in(path, std::ios::binary);
  DISMAX_CHECK(in.good(), path, ": cannot open PyTorch checkpoint (", std::strerror(errno), ")");
  std::string head(4, '\0');
  in.read(head.data(), 4);
  head.resize(static_cast<size_t>(in.gcount()));
  check_signature(head, path);
  return read_archive(ZipReader("", path, true), path);  // libzip reads the file: no copy of it in memory
}

void save_torch_file(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const std::vector<std::string>& bool_tensors) {
  std::vector<Tensor> host;
  PickleWriter p;
  p.proto();
  p.global("collections", "OrderedDict");
  p.op(')');
  p.op('R');
  p.mark();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t] = tensors[i];
    DISMAX_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    Tensor h = t.detach().to(Device::cpu()).contiguous();
    const bool as_bool = std::find(bool_tensors.begin(), bool_tensors.end(), name) != bool_tensors.end();
    const char* storage = storage_class_of(h.dtype(), as_bool, path, name);
    Shape stride(h.dim(), 1);
    for (int64_t d = h.dim() - 1; d > 0; --d) stride[d - 1] = stride[d] * h.size(d);
    p.text(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    p.mark();  // the persistent id
    p.text("storage");
    p.global("torch", storage);
    p.text(std::to_string(i));
    p.text("cpu");
    p.integer(h.numel());
    p.op('t');
    p.op('Q');
    p.integer(0);
    p.ints(h.sizes());
    p.ints(stride);
    p.op('\x89');  // requires_grad False
    p.global("collections", "OrderedDict");
    p.op(')');
    p.op('R');
    p.op('t');
    p.op('R');
    host.push_back(h);
  }
  p.op('u');
  p.stop();

  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* zip = buffer ? zip_open_from_source(buffer, ZIP_TRUNCATE, &error) : nullptr;
  if (zip == nullptr) {
    const std::string why = zip_error_strerror(&error);
    if (buffer) zip_source_free(buffer);
    zip_error_fini(&error);
    DISMAX_FAIL(path, ": cannot start a zip archive (", why, ")");
  }
  zip_error_fini(&error);
  zip_source_keep(buffer);
  const std::string version = "3\n", byteorder = "little";
  auto add = [&](const std::string& name, const void* data, size_t size) {
    zip_source_t* s = zip_source_buffer(zip, data, size, 0);
    const zip_int64_t index = s ? zip_file_add(zip, ("archive/" + name).c_str(), s, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (s) zip_source_free(s);
      const std::string why = zip_strerror(zip);
      zip_discard(zip);
      zip_source_free(buffer);
      DISMAX_FAIL(path, ": cannot add '", name, "' to the archive (", why, ")");
    }
    zip_set_file_compression(zip, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
    zip_file_set_mtime(zip, static_cast<zip_uint64_t>(index), 315532800, 0);  // 1980-01-01: reproducible files
  };
  add("data.pkl", p.bytes().data(), p.bytes().size());  // first: PyTorch names the archive after it
  add("byteorder", byteorder.data(), byteorder.size());
  for (size_t i = 0; i < host.size(); ++i)
    add("data/" + std::to_string(i), host[i].raw_data(), static_cast<size_t>(host[i].numel()) * host[i].itemsize());
  add("version", version.data(), version.size());
  if (zip_close(zip) != 0) {
    const std::string why = zip_strerror(zip);
    zip_discard(zip);
    zip_source_free(buffer);
    DISMAX_FAIL(path, ": cannot write the archive (", why, ")");
  }
  std::string bytes;
  zip_stat_t st;
  zip_stat_init(&st);
  bool ok = zip_source_stat(buffer, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && zip_source_open(buffer) == 0;
  if (ok) {
    bytes.resize(st.size);
    ok = zip_source_read(buffer, bytes.data(), st.size) == static_cast<zip_int64_t>(st.size);
    zip_source_close(buffer);
  }
  zip_source_free(buffer);
  DISMAX_CHECK(ok, path, ": cannot read back the archive built in memory");
  write_file_atomically(path, bytes);
}

#else  // !DISMAX_WITH_LIBZIP

bool torch_files_supported() { return false; }

TensorFile parse_torch_file(const std::string&, const std::string& source) {
  DISMAX_FAIL(source, ": reading torch.save (.pth) files needs libzip, and this build has none "
              "(install libzip-dev and rebuild)");
}

void save_torch_file(const std::string& path, const std::vector<std::pair<std::string, Tensor>>&,
                     const std::vector<std::string>&) {
  DISMAX_FAIL(path, ": writing torch.save (.pth) files needs libzip, and this build has none "
              "(install libzip-dev and rebuild)");
}

TensorFile load_torch_file(const std::string& path) { return parse_torch_file("", path); }

#endif

}  // namespace dismax
