#include "datasets/mat_file.h"

#include <zlib.h>

#include <cstring>

#include "engine/io/file.h"
#include "engine/error.h"

namespace dismax {

namespace {

enum MiType : uint32_t {
  miINT8 = 1,
  miUINT8 = 2,
  miINT16 = 3,
  miUINT16 = 4,
  miINT32 = 5,
  miUINT32 = 6,
  miSINGLE = 7,
  miDOUBLE = 9,
  miINT64 = 12,
  miUINT64 = 13,
  miMATRIX = 14,
  miCOMPRESSED = 15,
  miUTF8 = 16,
  miUTF16 = 17,
  miUTF32 = 18
};

int element_size(uint32_t type) {
  switch (type) {
    case miINT8:
    case miUINT8:
    case miUTF8:
      return 1;
    case miINT16:
    case miUINT16:
    case miUTF16:
      return 2;
    case miINT32:
    case miUINT32:
    case miSINGLE:
    case miUTF32:
      return 4;
    case miDOUBLE:
    case miINT64:
    case miUINT64:
      return 8;
    default:
      return 0;
  }
}

struct Element {
  uint32_t type = 0;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class Parser {
 public:
  Parser(std::string path, bool swap) : path_(std::move(path)), swap_(swap) {}

  uint32_t u32(const uint8_t* p) const {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }

  // Reads the element at `pos` of [p, p+n) and moves `pos` past it (and its padding).
  bool next(const uint8_t* p, size_t n, size_t& pos, Element& e) const {
    if (n - pos < 8) return false;
    const uint32_t t0 = u32(p + pos);
    if ((t0 >> 16) != 0) {  // small data element: type, size and up to 4 bytes of data in 8 bytes
      e.type = t0 & 0xFFFF;
      e.size = t0 >> 16;
      DISMAX_CHECK(e.size <= 4, path_, ": corrupt MAT-file (small element of ", e.size, " bytes at byte ",
                   pos, ")");
      e.data = p + pos + 4;
      pos += 8;
      return true;
    }
    e.type = t0;
    e.size = u32(p + pos + 4);
    DISMAX_CHECK(e.size <= n - pos - 8, path_, ": truncated MAT-file (an element of ", e.size,
                 " bytes at byte ", pos, " runs past the end of the data, ", n, " bytes)");
    e.data = p + pos + 8;
    pos += 8 + e.size;
    if (e.type != miCOMPRESSED) pos = std::min(n, (pos + 7) & ~size_t{7});
    return true;
  }

  void elements(const uint8_t* p, size_t n, std::vector<MatArray>& out) const {
    size_t pos = 0;
    Element e;
    while (next(p, n, pos, e)) {
      if (e.type == miCOMPRESSED) {
        const std::vector<uint8_t> plain = inflate(e.data, e.size);
        elements(plain.data(), plain.size(), out);
      } else if (e.type == miMATRIX) {
        matrix(e.data, e.size, out);
      }  // anything else at top level (e.g. padding, subsystem data) is ignored
    }
  }

 private:
  std::vector<uint8_t> inflate(const uint8_t* data, size_t size) const {
    z_stream zs{};
    DISMAX_CHECK(inflateInit(&zs) == Z_OK, path_, ": zlib initialisation failed");
    std::vector<uint8_t> out(std::max<size_t>(size * 4, 4096));
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = static_cast<uInt>(size);
    int rc = Z_OK;
    while (true) {
      if (zs.total_out == out.size()) out.resize(out.size() * 2);
      zs.next_out = out.data() + zs.total_out;
      zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - zs.total_out, 1u << 30));
      rc = ::inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input exhausted before the end of the stream
      if (rc != Z_OK) break;
    }
    out.resize(zs.total_out);
    inflateEnd(&zs);
    DISMAX_CHECK(rc == Z_STREAM_END, path_,
                 ": truncated or corrupt compressed variable in the MAT-file (zlib: ",
                 rc == Z_BUF_ERROR ? "unexpected end of data" : (zs.msg ? zs.msg : "error"), ")");
    return out;
  }

  void matrix(const uint8_t* p, size_t n, std::vector<MatArray>& out) const {
    size_t pos = 0;
    Element flags, dims, name, real;
    DISMAX_CHECK(next(p, n, pos, flags) && flags.type == miUINT32 && flags.size == 8, path_,
                 ": corrupt MAT-file (array without its flags)");
    const uint32_t f = u32(flags.data);
    const int mx_class = static_cast<int>(f & 0xFF);
    const bool complex = (f & 0x800) != 0;
    DISMAX_CHECK(next(p, n, pos, dims) && dims.type == miINT32, path_,
                 ": corrupt MAT-file (array without dimensions)");
    DISMAX_CHECK(next(p, n, pos, name) && name.type == miINT8, path_,
                 ": corrupt MAT-file (array without a name)");
    MatArray a;
    a.name.assign(reinterpret_cast<const char*>(name.data), name.size);
    a.mx_class = mx_class;
    if (mx_class < 6 || mx_class > 15 || complex)
      return;  // cell, struct, object, char, sparse, complex: skipped
    for (size_t i = 0; i + 4 <= dims.size; i += 4) a.dims.push_back(static_cast<int32_t>(u32(dims.data + i)));
    DISMAX_CHECK(next(p, n, pos, real), path_, ": truncated MAT-file (variable ", a.name, " has no data)");
    const int es = element_size(real.type);
    DISMAX_CHECK(es > 0 && real.type != miUTF8 && real.type != miUTF16 && real.type != miUTF32, path_,
                 ": corrupt MAT-file (variable ", a.name, " stored with data type ", real.type, ")");
    a.storage_type = static_cast<int>(real.type);
    DISMAX_CHECK(real.size == static_cast<size_t>(a.numel()) * es, path_, ": corrupt MAT-file (variable ",
                 a.name, " has ", real.size, " bytes of data for ", a.numel(), " elements of ", es,
                 " bytes)");
    a.data.assign(real.data, real.data + real.size);
    if (swap_ && es > 1) {
      for (size_t i = 0; i < a.data.size(); i += es)
        for (int k = 0; k < es / 2; ++k) std::swap(a.data[i + k], a.data[i + es - 1 - k]);
    }
    out.push_back(std::move(a));
  }

  std::string path_;
  bool swap_;
};

template <class T>
void convert(const std::vector<uint8_t>& data, std::vector<double>& out) {
  const size_t n = data.size() / sizeof(T);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(v);
  }
}

}  // namespace

int64_t MatArray::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<double> MatArray::to_double() const {
  std::vector<double> out;
  switch (storage_type) {
    case miINT8:
      convert<int8_t>(data, out);
      break;
    case miUINT8:
      convert<uint8_t>(data, out);
      break;
    case miINT16:
      convert<int16_t>(data, out);
      break;
    case miUINT16:
      convert<uint16_t>(data, out);
      break;
    case miINT32:
      convert<int32_t>(data, out);
      break;
    case miUINT32:
      convert<uint32_t>(data, out);
      break;
    case miSINGLE:
      convert<float>(data, out);
      break;
    case miDOUBLE:
      convert<double>(data, out);
      break;
    case miINT64:
      convert<int64_t>(data, out);
      break;
    case miUINT64:
      convert<uint64_t>(data, out);
      break;
    default:
      DISMAX_FAIL("MAT variable ", name, ": unsupported data type ", storage_type);
  }
  return out;
}

std::vector<MatArray> read_mat_file(const std::string& path) {
  const std::string file = read_whole_file(path, "MAT-file");
  const auto* bytes = reinterpret_cast<const uint8_t*>(file.data());
  const size_t size = file.size();
  DISMAX_CHECK(size >= 128, path, ": not a MATLAB level-5 MAT-file (", size,
               " bytes, shorter than the 128-byte header)");
  const bool is_hdf5 = size >= 520 && std::memcmp(bytes + 512, "\x89HDF\r\n\x1a\n", 8) == 0;
  DISMAX_CHECK(!is_hdf5, path,
               ": a MATLAB v7.3 (HDF5) MAT-file; save it with -v7 (or use the files torchvision "
               "downloads)");
  const char e0 = static_cast<char>(bytes[126]), e1 = static_cast<char>(bytes[127]);
  DISMAX_CHECK((e0 == 'I' && e1 == 'M') || (e0 == 'M' && e1 == 'I'), path,
               ": not a MATLAB level-5 MAT-file (no endian indicator in the header)");
  const bool swap = e0 == 'M';  // written big-endian
  const uint16_t version = swap ? static_cast<uint16_t>(bytes[124] << 8 | bytes[125])
                                : static_cast<uint16_t>(bytes[125] << 8 | bytes[124]);
  DISMAX_CHECK(version == 0x0100, path, ": unsupported MAT-file version 0x", std::hex, version);
  std::vector<MatArray> out;
  Parser(path, swap).elements(bytes + 128, size - 128, out);
  return out;
}

MatArray& find_mat_array(std::vector<MatArray>& arrays, const std::string& name, const std::string& path) {
  std::string present;
  for (auto& a : arrays) {
    if (a.name == name) return a;
    present += (present.empty() ? "" : ", ") + a.name;
  }
  DISMAX_FAIL(path, ": no numeric variable '", name,
              "' in the MAT-file (found: ", present.empty() ? std::string("none") : present, ")");
}

}  // namespace dismax
