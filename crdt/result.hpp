#pragma once
// Result<T>: the value of an operation that can fail for expected reasons
// (bad input, no rights, full disk). Returned across module boundaries instead
// of exceptions (STYLE 5, 6). Reading the value of an error result, or the
// error of a success, is a caller bug and trips PM_REQUIRE.

#include <string>
#include <utility>
#include <variant>

#include "crdt/assert.hpp"
#include "crdt/errors.hpp"

namespace placemesh {

struct Error {
  Code code;
  std::string detail;  // what was wrong, with the values, and what to do

  // "no rights for this pool: CIM/men has 0 rights here; rights held at HQ"
  [[nodiscard]] std::string message() const {
    std::string text(code_message(code));
    if (!detail.empty()) text += ": " + detail;
    return text;
  }
  friend bool operator==(const Error&, const Error&) = default;
};

[[nodiscard]] inline Error make_error(Code code, std::string detail = {}) {
  return Error{code, std::move(detail)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}        // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  [[nodiscard]] T& value() & {
    PM_REQUIRE(ok(), "value() of an error result:", error_unchecked().message());
    return std::get<T>(state_);
  }
  [[nodiscard]] const T& value() const& {
    PM_REQUIRE(ok(), "value() of an error result:", error_unchecked().message());
    return std::get<T>(state_);
  }
  [[nodiscard]] T&& value() && {
    PM_REQUIRE(ok(), "value() of an error result:", error_unchecked().message());
    return std::get<T>(std::move(state_));
  }
  [[nodiscard]] const Error& error() const {
    PM_REQUIRE(!ok(), "error() of a successful result");
    return std::get<Error>(state_);
  }

 private:
  [[nodiscard]] const Error& error_unchecked() const { return std::get<Error>(state_); }
  std::variant<T, Error> state_;
};

// Result of an operation with no value.
struct Ok {
  friend bool operator==(Ok, Ok) = default;
};
using Status = Result<Ok>;

}  // namespace placemesh
