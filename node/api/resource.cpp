#include "node/api/resource.hpp"

#include "node/json_text.hpp"

namespace placemesh::api {

int http_status(Code code) {
  switch (code) {
    case Code::malformed:
    case Code::count_out_of_range:
    case Code::total_overflow:
    case Code::invalid_key:
    case Code::invalid_value:
    case Code::invalid_record:
    case Code::bad_config:
    case Code::roster_too_far_ahead:
    case Code::bad_signature: return 400;
    case Code::nothing_to_remove:
    case Code::op_id_reused: return 409;
    case Code::unauthorized: return 401;
    case Code::forbidden:
    case Code::not_owner: return 403;
    case Code::unknown_pool: return 404;
    case Code::busy: return 503;
    case Code::rate_limited: return 429;
    case Code::store_full: return 507;
    default: return 500;
  }
}

Answer json_answer(int status, const nlohmann::json& json) { return Answer{status, json_text(json), "application/json", {}}; }

Answer error_answer(const Error& error, std::string_view field, std::optional<int> status) {
  nlohmann::json json = {{"ok", false}, {"error", code_name(error.code)}, {"message", error.message()}};
  if (!field.empty()) json["field"] = field;
  return json_answer(status.value_or(http_status(error.code)), json);
}

nlohmann::json optional_ms(std::optional<std::int64_t> ms) { return ms ? nlohmann::json(*ms) : nlohmann::json(); }

}  // namespace placemesh::api
