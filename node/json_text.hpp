#pragma once
// Every JSON document the node writes goes through json_text(): text from
// requests (paths, reasons) may hold invalid UTF-8, and nlohmann's default
// dump() throws on it; this one replaces such bytes and never throws.

#include <nlohmann/json.hpp>
#include <string>

namespace placemesh {

[[nodiscard]] inline std::string json_text(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace placemesh
