// Errors: every user-facing failure is an arkv::Error with a message that names
// what is wrong. The CLI catches it and exits non-zero; nothing aborts.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace arkv {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws arkv::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void Fail(fmt::format_string<Args...> fmt, Args&&... args) {
  throw Error(fmt::format(fmt, std::forward<Args>(args)...));
}

}  // namespace arkv

// Internal invariant, checked in debug builds only.
#ifndef NDEBUG
#include <cassert>
#define ARKV_DASSERT(cond) assert(cond)
#else
#define ARKV_DASSERT(cond) ((void)0)
#endif
