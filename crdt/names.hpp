#pragma once
// Names of small dense enums (Field, Category, ReservationState): one table
// per enum, indexed by its value, used both ways. The names are part of
// formats (store keys, JSON), so a table is the single place they are spelled.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "crdt/assert.hpp"

namespace placemesh {

template <typename Enum, std::size_t N>
[[nodiscard]] std::string_view name_of(const std::array<std::string_view, N>& names, Enum value) {
  const auto index = static_cast<std::size_t>(value);
  PM_REQUIRE(index < N, index);
  return names[index];
}

template <typename Enum, std::size_t N>
[[nodiscard]] std::optional<Enum> from_name(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == name) return static_cast<Enum>(i);
  return std::nullopt;
}

}  // namespace placemesh
