#include "node/api/resources.hpp"

namespace placemesh::api {

// POST /v1/roster: the body is a signed roster (node/ROSTER.md).
void post_roster(const Context& context, const Call& call, const Reply& reply) {
  if (call.token->role != TokenRole::admin)
    return reply(error_answer(make_error(Code::forbidden, "installing a roster needs an admin token")));
  auto installed = context.core.install_roster(std::string(call.body));
  if (!installed) return reply(error_answer(installed.error()));
  reply(json_answer(200, {{"ok", true},
                          {"installed", installed.value()},
                          {"version", context.replica.roster().version},
                          {"message", installed.value() ? "installed; passing it on to the peers"
                                                        : "not newer than the roster this node runs; nothing changed"}}));
}

}  // namespace placemesh::api
