// A minimal Python unpickler for data files: enough of protocols 0-4 to read the CIFAR python pickles
// (Python 2 cPickle protocol 2 dicts holding numpy arrays and lists of ints, as torchvision downloads them),
// the same data re-pickled by Python 3, and the data.pkl of a torch.save checkpoint. It builds values; it
// never runs code: a global is only a name, REDUCE records the call, and numpy arrays are recognised by
// their reconstruction recipe. A Policy restricts it further (the globals and opcodes a file may use).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dismax::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  // Persistent: a reference to data outside the pickle (BINPERSID); `args` holds its id.
  enum class Kind { None, Bool, Int, Float, Bytes, Str, List, Tuple, Dict, Global, Call, Persistent };
  Kind kind = Kind::None;
  int64_t i = 0;                   // Bool, Int
  double f = 0;                    // Float
  std::string s;                   // Bytes (raw), Str (UTF-8), Global ("module.name")
  std::vector<ValuePtr> items;     // List, Tuple; Dict as key, value, key, value...
  ValuePtr callable, args, state;  // Call: callable(*args), then BUILD's state

  const ValuePtr* find(const std::string& key) const;  // Dict lookup by Str or Bytes key; nullptr if absent
};

// What a pickle may contain. The default accepts every opcode load() knows and any global (as a name).
struct Policy {
  // Non-empty: the only globals accepted ("module.name"); any other is refused with an error naming it.
  std::vector<std::string> allowed_globals;
  // Only the binary opcodes that pickled dicts, lists, tuples, numbers, strings and REDUCE/BUILD records
  // need (no text opcodes, NEWOBJ, POP/DUP, bytearrays); any other is refused, named.
  bool data_opcodes_only = false;
  bool persistent_ids = false;  // BINPERSID (torch.save's storages); refused otherwise
  std::string kind = "a data pickle";  // what the file should be, for errors
};

// Parses a pickle stream; `what` (the file name) goes into every error.
ValuePtr load(const std::string& bytes, const std::string& what, const Policy& policy = {});

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
