#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "node/api/resources.hpp"

namespace placemesh::api {

namespace {

// Fills op from the JSON body; the error names the field at fault.
std::optional<std::pair<Error, std::string>> parse_body(std::string_view body, OperationRequest& op) {
  auto bad = [](std::string field, std::string what) {
    return std::optional(std::pair{make_error(Code::malformed, field + ": " + what), field});
  };
  nlohmann::json json;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    json = nlohmann::json::object();  // an empty body means "all defaults"
  } else {
    json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded()) return bad("body", "not valid JSON");
  }
  if (!json.is_object()) return bad("body", "expected a JSON object");
  const bool counts = op.kind != OperationKind::operational;
  const bool reasons = op.kind != OperationKind::admit && op.kind != OperationKind::operational;
  for (const auto& [name, value] : json.items()) {
    if (name == "op_id") {
      if (!value.is_string()) return bad("op_id", "expected a string");
      op.op_id = value.get<std::string>();
      if (!is_valid_op_id(op.op_id)) return bad("op_id", "expected 1 to 64 of A-Z a-z 0-9 - _ . :");
    } else if (name == "count" && counts) {
      if (!value.is_number_integer()) return bad("count", "expected a whole number");
      op.count = value.get<std::int64_t>();
    } else if (name == "value" && !counts) {
      if (!value.is_number_integer()) return bad("value", "expected a whole number");
      op.value = value.get<std::int64_t>();
    } else if (name == "reason" && reasons) {
      if (!value.is_string()) return bad("reason", "expected a string");
      op.reason = value.get<std::string>();
      if (op.reason.size() > limits::release_reason_bytes_max)
        return bad("reason", "at most " + std::to_string(limits::release_reason_bytes_max) + " bytes");
    } else {
      return bad(name, "not a field of " + std::string(operation_name(op.kind)));
    }
  }
  if (!counts && !json.contains("value")) return bad("value", "missing; expected the operational capacity");
  if (counts && (op.count < 1 || op.count > limits::operation_count_max))
    return bad("count", std::to_string(op.count) + " is out of range; expected 1.." +
                            std::to_string(limits::operation_count_max));
  if (op.kind == OperationKind::release && op.reason.empty())
    return bad("reason", "missing; a release needs a reason (such as \"removed\", \"transferred\")");
  if ((op.kind == OperationKind::block || op.kind == OperationKind::unblock) && !is_blocked_reason(op.reason))
    return bad("reason", "\"" + op.reason + "\": expected maintenance, damage, staffing, medical or other");
  return std::nullopt;
}

}  // namespace

// POST /v1/pools/{centre}/{unit}/{operation}: answered once the change is
// durable, with the receipt (X-Placemesh-Replay: true when an op_id seen
// before got its first receipt back).
void post_operation(const Context& context, const Call& call, const Reply& reply) {
  const Token& token = *call.token;
  const std::string& centre = call.params.find("centre")->second;
  const std::string& operation = call.params.find("operation")->second;
  OperationRequest op;
  op.actor = token.name;
  op.pool = centre + "/" + call.params.find("unit")->second;
  auto kind = operation_from_name(operation);
  if (!kind)
    return reply(error_answer(make_error(Code::malformed, "unknown operation \"" + operation +
                                                              "\"; expected admit, release, block, unblock or "
                                                              "operational"),
                              {}, 404));
  op.kind = *kind;
  Replica& replica = context.replica;
  if (!replica.roster().find_pool(op.pool))
    return reply(error_answer(make_error(Code::unknown_pool, "\"" + op.pool + "\" is not in roster version " +
                                                                 std::to_string(replica.roster().version))));
  if (token.role == TokenRole::viewer || token.role == TokenRole::dispatcher)
    return reply(error_answer(make_error(Code::forbidden, "token \"" + token.name + "\" is a " +
                                                              std::string(token_role_name(token.role)) +
                                                              " token; recording changes needs an operator or admin "
                                                              "token")));
  if (token.role == TokenRole::operator_role && token.centre != centre)
    return reply(error_answer(make_error(Code::forbidden, "token \"" + token.name + "\" is an operator of " +
                                                              token.centre + ", not of " + centre)));
  if (call.body.size() > context.config.body_bytes_max)
    return reply(error_answer(make_error(Code::malformed, "the body has " + std::to_string(call.body.size()) +
                                                              " bytes; the limit is " +
                                                              std::to_string(context.config.body_bytes_max)),
                              {}, 413));
  if (auto error = parse_body(call.body, op); error) return reply(error_answer(error->first, error->second));
  if (op.op_id.empty()) op.op_id = new_op_id();
  replica.execute(std::move(op), [reply](OperationOutcome outcome) {
    if (outcome.error) return reply(error_answer(*outcome.error));
    Answer answer{200, std::move(outcome.receipt), "application/json", {}};
    if (outcome.replayed) answer.headers.emplace_back("X-Placemesh-Replay", "true");
    reply(std::move(answer));
  });
}

}  // namespace placemesh::api
