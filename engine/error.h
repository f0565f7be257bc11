// Errors thrown by the engine: one exception type whose message names the op, file or shape at fault.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace dismax {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace dismax

// DISMAX_CHECK(cond, parts...): throws dismax::Error with the parts streamed together when cond is false.
#define DISMAX_CHECK(cond, ...)                                               \
  do {                                                                        \
    if (!(cond)) throw ::dismax::Error(::dismax::detail::concat(__VA_ARGS__)); \
  } while (0)

#define DISMAX_FAIL(...) throw ::dismax::Error(::dismax::detail::concat(__VA_ARGS__))
