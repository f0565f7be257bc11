// A minimal Python unpickler for data files: enough of protocols 0-4 to read the CIFAR python pickles
// (Python 2 cPickle protocol 2 dicts holding numpy arrays and lists of ints, as torchvision downloads them)
// and the same data re-pickled by Python 3. It builds values; it never runs code: a global is only a name,
// REDUCE records the call, and numpy arrays are recognised by their reconstruction recipe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dismax::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { None, Bool, Int, Float, Bytes, Str, List, Tuple, Dict, Global, Call };
  Kind kind = Kind::None;
  int64_t i = 0;                   // Bool, Int
  double f = 0;                    // Float
  std::string s;                   // Bytes (raw), Str (UTF-8), Global ("module.name")
  std::vector<ValuePtr> items;     // List, Tuple; Dict as key, value, key, value...
  ValuePtr callable, args, state;  // Call: callable(*args), then BUILD's state

  const ValuePtr* find(const std::string& key) const;  // Dict lookup by Str or Bytes key; nullptr if absent
};

// Parses a pickle stream; `what` (the file name) goes into every error.
ValuePtr load(const std::string& bytes, const std::string& what);

// A uint8 numpy array reconstructed by a pickle (numpy.core.multiarray._reconstruct or
// numpy.core.numeric._frombuffer); throws naming `what` if `v` is not one.
struct NumpyBytes {
  std::vector<int64_t> shape;
  std::string data;  // C order
};
NumpyBytes as_uint8_array(const Value& v, const std::string& what);
// A list (or tuple) of ints.
std::vector<int64_t> as_int_list(const Value& v, const std::string& what);

}  // namespace dismax::pickle
