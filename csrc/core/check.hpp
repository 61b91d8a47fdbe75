// Argument checks shared by every kernel front end.
// Kernels throw std::invalid_argument (-> Python ValueError) with a message naming the argument.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace pyssl {

using index_t = std::int64_t;

template <class... Parts>
[[noreturn]] inline void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw std::invalid_argument(os.str());
}

#define PYSSL_CHECK(cond, ...)                 \
  do {                                         \
    if (!(cond)) ::pyssl::fail(__VA_ARGS__);   \
  } while (0)

}  // namespace pyssl
