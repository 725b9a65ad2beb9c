#pragma once
// Assertions for bugs, on in every build (STYLE 5).
//
// PM_ASSERT(cond, ...)  — our own bug: an invariant of this code is broken.
// PM_REQUIRE(cond, ...) — the caller's bug: a precondition was not met.
// Both print the condition, the place and the values passed after it, then
// abort. Expected failures (bad input, full disk, a peer gone) never use these:
// they travel as placemesh::Result (crdt/result.hpp).

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace placemesh::detail {

template <typename... Values>
[[noreturn]] void assertion_failed(const char* kind, const char* condition, const char* file,
                                   int line, const Values&... values) {
  std::ostringstream out;
  ((out << " " << values), ...);
  std::fprintf(stderr, "%s failed: %s at %s:%d%s\n", kind, condition, file, line,
               out.str().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace placemesh::detail

#define PM_ASSERT(cond, ...)                                                                \
  do {                                                                                      \
    if (!(cond)) [[unlikely]]                                                               \
      ::placemesh::detail::assertion_failed("PM_ASSERT", #cond, __FILE__,                   \
                                            __LINE__ __VA_OPT__(, ) __VA_ARGS__);           \
  } while (false)

#define PM_REQUIRE(cond, ...)                                                               \
  do {                                                                                      \
    if (!(cond)) [[unlikely]]                                                               \
      ::placemesh::detail::assertion_failed("PM_REQUIRE", #cond, __FILE__,                  \
                                            __LINE__ __VA_OPT__(, ) __VA_ARGS__);           \
  } while (false)
