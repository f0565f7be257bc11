#include "engine/io/pickle.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "engine/error.h"

namespace dismax::pickle {

const ValuePtr* Value::find(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    const Value& k = *items[i];
    if ((k.kind == Kind::Str || k.kind == Kind::Bytes) && k.s == key) return &items[i + 1];
  }
  return nullptr;
}

namespace {

// Every value load() creates, so that cycles among them can be cut (see CycleBreaker).
thread_local std::vector<std::weak_ptr<Value>>* created_values = nullptr;

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  if (created_values != nullptr) created_values->push_back(v);
  v->kind = kind;
  return v;
}
ValuePtr make_int(int64_t i, Value::Kind kind = Value::Kind::Int) {
  auto v = make(kind);
  v->i = i;
  return v;
}
ValuePtr make_string(std::string s, Value::Kind kind) {
  auto v = make(kind);
  v->s = std::move(s);
  return v;
}

// UTF-8 text whose code points are all below 256 back to the bytes (Python's str.encode("latin1")).
std::string utf8_to_latin1(const std::string& s, const std::string& what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size() && c <= 0xC3) {
      out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F)));
    } else {
      DISMAX_FAIL(what, ": pickle: a latin1-encoded string holds a character above U+00FF");
    }
  }
  return out;
}

// The opcodes of pickled data: containers, numbers, strings, the memo, globals, REDUCE and BUILD.
bool is_data_opcode(uint8_t op) {
  static const std::string ops = std::string("\x80\x95.(N\x88\x89KMJ\x8a\x8bGCB\x8e\x8cX\x8d}])t\x85\x86\x87ldaesuqr\x94hjc\x93RbQ");
  return ops.find(static_cast<char>(op)) != std::string::npos;
}

// Names of the opcodes a restricted pickle refuses, for its error.
const char* opcode_name(uint8_t op) {
  switch (op) {
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'U': return "SHORT_BINSTRING";
    case 'T': return "BINSTRING";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'F': return "FLOAT";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: case 0x83: case 0x84: return "EXT";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    default: return "unknown";
  }
}

class Unpickler {
 public:
  Unpickler(const std::string& bytes, const std::string& what, const Policy& policy)
      : b_(bytes), what_(what), policy_(policy) {}

  ValuePtr run() {
    while (true) {
      const uint8_t op = u8();
      if ((policy_.data_opcodes_only && !is_data_opcode(op)) || (op == 'Q' && !policy_.persistent_ids))
        DISMAX_FAIL(what_, ": pickle opcode 0x", std::hex, static_cast<int>(op), std::dec, " (", opcode_name(op),
                    ") at byte ", pos_ - 1, " is not one ", policy_.kind, " needs; refused");
      switch (op) {
        case 0x80:
          u8();
          break;  // PROTO
        case 0x95:
          skip(8);
          break;   // FRAME
        case '.':  // STOP
          require(!stack_.empty(), "STOP with an empty stack");
          return stack_.back();
        case '(':
          marks_.push_back(stack_.size());
          break;
        case 'N':
          push(make(Value::Kind::None));
          break;
        case 0x88:
          push(make_int(1, Value::Kind::Bool));
          break;
        case 0x89:
          push(make_int(0, Value::Kind::Bool));
          break;
        case 'K':
          push(make_int(u8()));
          break;
        case 'M':
          push(make_int(le(2)));
          break;
        case 'J':
          push(make_int(static_cast<int32_t>(le(4))));
          break;
        case 0x8a:
          push(make_int(long_bytes(u8())));
          break;  // LONG1
        case 0x8b:
          push(make_int(long_bytes(checked_len(le(4)))));
          break;  // LONG4
        case 'I': {
          const std::string line = text_line();
          if (line == "00" || line == "01")
            push(make_int(line == "01", Value::Kind::Bool));
          else
            push(make_int(std::stoll(line)));
          break;
        }
        case 'L': {
          std::string line = text_line();
          if (!line.empty() && line.back() == 'L') line.pop_back();
          push(make_int(std::stoll(line)));
          break;
        }
        case 'G': {
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | u8();
          auto v = make(Value::Kind::Float);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'U':
          push(make_string(take(u8()), Value::Kind::Bytes));
          break;  // SHORT_BINSTRING
        case 'T':
          push(make_string(take(checked_len(le(4))), Value::Kind::Bytes));
          break;  // BINSTRING
        case 'C':
          push(make_string(take(u8()), Value::Kind::Bytes));
          break;  // SHORT_BINBYTES
        case 'B':
          push(make_string(take(checked_len(le(4))), Value::Kind::Bytes));
          break;  // BINBYTES
        case 0x8e:
          push(make_string(take(checked_len(le(8))), Value::Kind::Bytes));
          break;  // BINBYTES8
        case 0x96:
          push(make_string(take(checked_len(le(8))), Value::Kind::Bytes));
          break;  // BYTEARRAY8
        case 0x8c:
          push(make_string(take(u8()), Value::Kind::Str));
          break;  // SHORT_BINUNICODE
        case 'X':
          push(make_string(take(checked_len(le(4))), Value::Kind::Str));
          break;  // BINUNICODE
        case 0x8d:
          push(make_string(take(checked_len(le(8))), Value::Kind::Str));
          break;  // BINUNICODE8
        case '}':
          push(make(Value::Kind::Dict));
          break;
        case ']':
          push(make(Value::Kind::List));
          break;
        case ')':
          push(make(Value::Kind::Tuple));
          break;
        case 't': {
          auto t = make(Value::Kind::Tuple);
          t->items = pop_mark();
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84;
          require(stack_.size() >= n, "TUPLE", n, " on a short stack");
          auto t = make(Value::Kind::Tuple);
          t->items.assign(stack_.end() - n, stack_.end());
          stack_.resize(stack_.size() - n);
          push(t);
          break;
        }
        case 'l': {
          auto l = make(Value::Kind::List);
          l->items = pop_mark();
          push(l);
          break;
        }
        case 'd': {
          auto d = make(Value::Kind::Dict);
          d->items = pop_mark();
          require(d->items.size() % 2 == 0, "DICT with an odd number of items");
          push(d);
          break;
        }
        case 'a': {
          ValuePtr v = pop();
          top(Value::Kind::List)->items.push_back(v);
          break;
        }
        case 'e': {
          auto items = pop_mark();
          auto& list = top(Value::Kind::List)->items;
          list.insert(list.end(), items.begin(), items.end());
          break;
        }
        case 's': {
          ValuePtr v = pop(), k = pop();
          auto& d = top(Value::Kind::Dict)->items;
          d.push_back(k);
          d.push_back(v);
          break;
        }
        case 'u': {
          auto items = pop_mark();
          require(items.size() % 2 == 0, "SETITEMS with an odd number of items");
          auto& d = top(Value::Kind::Dict)->items;
          d.insert(d.end(), items.begin(), items.end());
          break;
        }
        case 'q':
          memo_[u8()] = back();
          break;
        case 'r':
          memo_[le(4)] = back();
          break;
        case 'p':
          memo_[std::stoull(text_line())] = back();
          break;
        case 0x94:
          memo_[memo_.size()] = back();
          break;  // MEMOIZE
        case 'h':
          push(memo(u8()));
          break;
        case 'j':
          push(memo(le(4)));
          break;
        case 'g':
          push(memo(std::stoull(text_line())));
          break;
        case 'c': {
          std::string module = text_line();
          std::string name = text_line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          ValuePtr name = pop(), module = pop();
          require(name->kind == Value::Kind::Str && module->kind == Value::Kind::Str, "STACK_GLOBAL of non-strings");
          push(global(module->s + "." + name->s));
          break;
        }
        case 'Q': {  // BINPERSID
          auto v = make(Value::Kind::Persistent);
          v->args = pop();
          push(v);
          break;
        }
        case 'R': {
          ValuePtr args = pop(), callable = pop();
          push(call(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          ValuePtr args = pop(), cls = pop();
          push(call(cls, args));
          break;
        }
        case 'b': {
          ValuePtr state = pop();
          ValuePtr obj = back();
          require(obj->kind == Value::Kind::Call || obj->kind == Value::Kind::Dict,
                  "BUILD on something that is not an object");
          obj->state = state;
          break;
        }
        case '0':
          pop();
          break;  // POP
        case '2':
          push(back());
          break;  // DUP
        case '1':
          pop_mark();
          break;  // POP_MARK
        default:
          DISMAX_FAIL(what_, ": pickle opcode 0x", std::hex, static_cast<int>(op), std::dec, " at byte ",
                      pos_ - 1, " is not supported (not ", policy_.kind, "?)");
      }
    }
  }

 private:
  template <class... A>
  void require(bool cond, A&&... parts) {
    if (!cond) DISMAX_FAIL(what_, ": malformed pickle: ", std::forward<A>(parts)..., " (at byte ", pos_, ")");
  }
  uint8_t u8() {
    require(pos_ < b_.size(), "truncated file (the pickle ends before its STOP opcode)");
    return static_cast<uint8_t>(b_[pos_++]);
  }
  uint64_t le(int n) {
    require(pos_ + n <= b_.size(), "truncated file (the pickle ends before its STOP opcode)");
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t{static_cast<uint8_t>(b_[pos_ + k])} << (8 * k);
    pos_ += n;
    return v;
  }
  size_t checked_len(uint64_t n) {
    require(n <= b_.size() - pos_, "truncated file (a ", n, "-byte string runs past the end at ", b_.size(),
            ")");
    return static_cast<size_t>(n);
  }
  void skip(size_t n) { pos_ += checked_len(n); }
  std::string take(size_t n) {
    checked_len(n);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  int64_t long_bytes(size_t n) {
    require(n <= 8, "integer of ", n, " bytes does not fit 64 bits");
    const size_t start = pos_;
    uint64_t v = le(static_cast<int>(n));
    if (n > 0 && n < 8 && (static_cast<uint8_t>(b_[start + n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);
    return static_cast<int64_t>(v);
  }
  std::string text_line() {
    const size_t end = b_.find('\n', pos_);
    require(end != std::string::npos, "truncated file (unterminated text line)");
    std::string s = b_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    require(!stack_.empty() && (marks_.empty() || stack_.size() > marks_.back()), "pop from an empty stack");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const ValuePtr& back() {
    require(!stack_.empty(), "empty stack");
    return stack_.back();
  }
  const ValuePtr& top(Value::Kind kind) {
    const ValuePtr& v = back();
    require(v->kind == kind, "unexpected object kind on the stack");
    return v;
  }
  std::vector<ValuePtr> pop_mark() {
    require(!marks_.empty(), "no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  ValuePtr memo(uint64_t key) {
    auto it = memo_.find(key);
    require(it != memo_.end(), "memo key ", key, " was never stored");
    return it->second;
  }
  ValuePtr global(std::string name) {
    const auto& allowed = policy_.allowed_globals;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      DISMAX_FAIL(what_, ": pickle global '", name, "' is not one ", policy_.kind, " needs; refused (nothing in the "
                  "file is run)");
    return make_string(std::move(name), Value::Kind::Global);
  }
  // Builds the value a call would return for the few callables data pickles use to spell bytes and ordered
  // dicts; every other call stays a record of (callable, args).
  ValuePtr call(const ValuePtr& callable, const ValuePtr& args) {
    if (callable->kind == Value::Kind::Global && args->kind == Value::Kind::Tuple) {
      const std::string& g = callable->s;
      const auto& a = args->items;
      if (g == "collections.OrderedDict" && a.empty()) return make(Value::Kind::Dict);
      if ((g == "_codecs.encode" || g == "builtins.bytearray" || g == "__builtin__.bytearray") &&
          a.size() == 2 && a[0]->kind == Value::Kind::Str && a[1]->kind == Value::Kind::Str &&
          (a[1]->s == "latin1" || a[1]->s == "latin-1"))
        return make_string(utf8_to_latin1(a[0]->s, what_), Value::Kind::Bytes);
      if ((g == "builtins.bytes" || g == "builtins.bytearray" || g == "__builtin__.bytearray") && a.empty())
        return make_string("", Value::Kind::Bytes);
    }
    auto v = make(Value::Kind::Call);
    v->callable = callable;
    v->args = args;
    return v;
  }

  const std::string& b_;
  const std::string& what_;
  const Policy& policy_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

bool is_global(const ValuePtr& v, const char* a, const char* b = nullptr) {
  return v && v->kind == Value::Kind::Global && (v->s == a || (b && v->s == b));
}

// dtype('u1') / dtype('|u1') / dtype('uint8') as numpy pickles it.
bool is_uint8_dtype(const ValuePtr& d) {
  if (!d || d->kind != Value::Kind::Call || !is_global(d->callable, "numpy.dtype")) return false;
  if (!d->args || d->args->items.empty()) return false;
  const Value& name = *d->args->items[0];
  return (name.kind == Value::Kind::Str || name.kind == Value::Kind::Bytes) &&
         (name.s == "u1" || name.s == "|u1" || name.s == "uint8");
}

std::vector<int64_t> ints_of(const ValuePtr& v, const std::string& what) {
  DISMAX_CHECK(v && (v->kind == Value::Kind::Tuple || v->kind == Value::Kind::List), what,
               ": expected a tuple of ints in the pickled array");
  std::vector<int64_t> out;
  for (const auto& x : v->items) {
    DISMAX_CHECK(x->kind == Value::Kind::Int, what, ": expected a tuple of ints in the pickled array");
    out.push_back(x->i);
  }
  return out;
}

// A hostile pickle can make a value contain itself (memo + APPEND / SETITEM / BUILD), which shared_ptr
// never frees. Data files have no cycles: one found is an error, and every edge among the values is cut so
// that nothing leaks (found by fuzzing).
class CycleBreaker {
 public:
  // Whether any of `values` reaches itself (iterative depth-first search, each value and edge visited once).
  static bool has_cycle(const std::vector<ValuePtr>& values) {
    std::unordered_map<const Value*, int> state;  // 1 = on the current path, 2 = done
    struct Frame {
      const Value* v;
      size_t next;
    };
    for (const ValuePtr& root : values) {
      if (!root || state[root.get()] != 0) continue;
      std::vector<Frame> path{{root.get(), 0}};
      state[root.get()] = 1;
      while (!path.empty()) {
        Frame& f = path.back();
        if (f.next == child_count(*f.v)) {
          state[f.v] = 2;
          path.pop_back();
          continue;
        }
        const Value* k = child(*f.v, f.next++);
        if (k == nullptr) continue;
        int& st = state[k];
        if (st == 1) return true;
        if (st == 0) {
          st = 1;
          path.push_back({k, 0});
        }
      }
    }
    return false;
  }
  // Drops every child pointer of `values`: with all of them cleared, no cycle among them survives.
  static void cut(const std::vector<ValuePtr>& values) {
    for (const ValuePtr& v : values) {
      v->items.clear();
      v->callable.reset();
      v->args.reset();
      v->state.reset();
    }
  }
  // Every value load() created that is still alive: on the stack, in the memo, in the result, or kept
  // alive only by a cycle.
  static std::vector<ValuePtr> alive(const std::vector<std::weak_ptr<Value>>& created) {
    std::vector<ValuePtr> all;
    for (const auto& w : created)
      if (ValuePtr v = w.lock()) all.push_back(std::move(v));
    return all;
  }

 private:
  static size_t child_count(const Value& v) { return v.items.size() + 3; }
  static const Value* child(const Value& v, size_t i) {
    if (i < v.items.size()) return v.items[i].get();
    const ValuePtr* tail[] = {&v.callable, &v.args, &v.state};
    return tail[i - v.items.size()]->get();
  }
};

}  // namespace

ValuePtr load(const std::string& bytes, const std::string& what, const Policy& policy) {
  std::vector<std::weak_ptr<Value>> created;
  struct Registry {
    explicit Registry(std::vector<std::weak_ptr<Value>>* r) { created_values = r; }
    ~Registry() { created_values = nullptr; }
  } registry(&created);
  ValuePtr result;
  {
    Unpickler u(bytes, what, policy);
    try {
      result = u.run();
    } catch (const std::logic_error& e) {  // std::stoll on a malformed text opcode
      CycleBreaker::cut(CycleBreaker::alive(created));
      DISMAX_FAIL(what, ": malformed pickle (", e.what(), ")");
    } catch (...) {
      CycleBreaker::cut(CycleBreaker::alive(created));
      throw;
    }
  }
  const std::vector<ValuePtr> alive = CycleBreaker::alive(created);
  if (CycleBreaker::has_cycle(alive)) {
    CycleBreaker::cut(alive);
    DISMAX_FAIL(what, ": the pickle holds a value that contains itself (not a data file)");
  }
  return result;
}

NumpyBytes as_uint8_array(const Value& v, const std::string& what) {
  DISMAX_CHECK(v.kind == Value::Kind::Call, what, ": expected a pickled numpy array");
  NumpyBytes out;
  ValuePtr dtype, data;
  bool fortran = false;
  if (is_global(v.callable, "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct")) {
    DISMAX_CHECK(v.state && v.state->kind == Value::Kind::Tuple &&
                     (v.state->items.size() == 5 || v.state->items.size() == 4),
                 what, ": pickled numpy array without its (version, shape, dtype, fortran, data) state");
    const auto& st = v.state->items;
    const size_t o = st.size() == 5 ? 1 : 0;
    out.shape = ints_of(st[o], what);
    dtype = st[o + 1];
    fortran = st[o + 2]->i != 0;
    data = st[o + 3];
  } else if (is_global(v.callable, "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer")) {
    DISMAX_CHECK(v.args && v.args->items.size() == 4, what, ": unexpected numpy _frombuffer arguments");
    const auto& a = v.args->items;
    data = a[0];
    dtype = a[1];
    out.shape = ints_of(a[2], what);
    fortran = a[3]->s == "F";
  } else {
    DISMAX_FAIL(what, ": expected a pickled numpy array, found a call to ",
                v.callable ? v.callable->s : std::string("?"));
  }
  DISMAX_CHECK(is_uint8_dtype(dtype), what, ": the pickled numpy array is not uint8");
  DISMAX_CHECK(!fortran, what, ": Fortran-order pickled arrays are not supported");
  DISMAX_CHECK(data && data->kind == Value::Kind::Bytes, what,
               ": the pickled numpy array holds no raw bytes");
  int64_t n = 1;
  for (int64_t d : out.shape) n *= d;
  DISMAX_CHECK(static_cast<int64_t>(data->s.size()) == n, what, ": pickled array data has ", data->s.size(),
               " bytes, its shape needs ", n);
  out.data = data->s;
  return out;
}

std::vector<int64_t> as_int_list(const Value& v, const std::string& what) {
  DISMAX_CHECK(v.kind == Value::Kind::List || v.kind == Value::Kind::Tuple, what,
               ": expected a list of ints");
  std::vector<int64_t> out;
  out.reserve(v.items.size());
  for (const auto& x : v.items) {
    DISMAX_CHECK(x->kind == Value::Kind::Int, what, ": expected a list of ints");
    out.push_back(x->i);
  }
  return out;
}

}  // namespace dismax::pickle
