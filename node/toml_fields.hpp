#pragma once
// Reading the fields of a TOML file while collecting every problem, so that a
// bad file is answered with one message naming each bad field and the form
// expected (config, roster, tokens). Included only by the .cpp files that
// parse those files: toml++ is a heavy header.
//
// Debian's toml++ is a shared library built with exceptions: parse() below
// catches toml::parse_error and returns a Result (STYLE 6).

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/result.hpp"

namespace placemesh::toml_fields {

class Fields {
 public:
  explicit Fields(std::string source) : source_(std::move(source)) {}

  void problem(std::string_view where, std::string_view what) {
    problems_.push_back(std::string(where) + ": " + std::string(what));
  }
  [[nodiscard]] bool ok() const { return problems_.empty(); }

  // A present string field, or nullopt (and a problem when required).
  std::optional<std::string> string(const toml::table& table, std::string_view key, std::string_view where,
                                    bool required, std::string_view expected) {
    const auto* node = table.get(key);
    if (node == nullptr) {
      if (required) problem(where, std::string("missing; expected ") + std::string(expected));
      return std::nullopt;
    }
    if (const auto* value = node->as_string()) return value->get();
    problem(where, std::string("not a string; expected ") + std::string(expected));
    return std::nullopt;
  }

  std::optional<std::int64_t> integer(const toml::table& table, std::string_view key, std::string_view where,
                                      bool required, std::int64_t low, std::int64_t high) {
    const auto* node = table.get(key);
    const std::string expected = "an integer in " + std::to_string(low) + ".." + std::to_string(high);
    if (node == nullptr) {
      if (required) problem(where, "missing; expected " + expected);
      return std::nullopt;
    }
    const auto* value = node->as_integer();
    if (value == nullptr || value->get() < low || value->get() > high) {
      problem(where, "expected " + expected);
      return std::nullopt;
    }
    return value->get();
  }

  // Names keys that are not in `known`: a typo must not silently fall back
  // to a default.
  void unknown_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                    std::string_view prefix) {
    for (const auto& [key, node] : table) {
      (void)node;
      bool found = false;
      for (auto name : known) found = found || key.str() == name;
      if (!found) problem(std::string(prefix) + std::string(key.str()), "unknown field");
    }
  }

  // Calls visit(table, path) for each element of an array of tables, with
  // its path ("node[2]"); names every element that is not a table.
  template <typename Visit>
  void each_table(const toml::array& array, std::string_view prefix, Visit visit) {
    std::size_t index = 0;
    for (const auto& element : array) {
      const std::string at = std::string(prefix) + "[" + std::to_string(index++) + "]";
      if (const auto* table = element.as_table()) visit(*table, at);
      else problem(at, "expected a table");
    }
  }

  // One error naming every problem, or Ok.
  [[nodiscard]] Status result(Code code) const {
    if (problems_.empty()) return Ok{};
    std::string text = source_ + " has " + std::to_string(problems_.size()) +
                       (problems_.size() == 1 ? " problem:" : " problems:");
    for (const auto& line : problems_) text += "\n  " + line;
    return make_error(code, text);
  }

 private:
  std::string source_;
  std::vector<std::string> problems_;
};

// Parses text, or returns an error with the line and column of the mistake.
[[nodiscard]] inline Result<toml::table> parse(std::string_view text, const std::string& source, Code code) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    return make_error(code, source + ":" + std::to_string(error.source().begin.line) + ":" +
                                std::to_string(error.source().begin.column) + ": " +
                                std::string(error.description()));
  }
}

}  // namespace placemesh::toml_fields
