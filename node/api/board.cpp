#include <algorithm>
#include <string>

#include "node/api/resources.hpp"
#include "node/dashboard_html.hpp"
#include "node/json_text.hpp"

namespace placemesh::api {

namespace {

nlohmann::json totals_json(const Totals& totals) {
  return {{"design", totals.design},     {"operational", totals.operational},
          {"occupied", totals.occupied}, {"blocked", totals.blocked},
          {"reserved", totals.reserved}, {"available", totals.available},
          {"overbooked", totals.available < 0 ? -totals.available : 0}};
}

}  // namespace

// Field names are a contract with the dashboard, the CLI and scripts: add
// fields freely, never rename.
std::string board_document(const Replica& replica) {
  const Board board = replica.board();
  const std::int64_t now = replica.now_ms();
  nlohmann::json centres = nlohmann::json::array();
  for (const auto& centre : board.centres) {
    nlohmann::json pools = nlohmann::json::array();
    for (const auto& pool : centre.pools) {
      const auto slash = pool.pool.find('/');
      pools.push_back({{"pool", pool.pool.substr(slash + 1)},
                       {"id", pool.pool},
                       {"category", category_name(pool.category)},
                       {"design", pool.design},
                       {"operational", pool.operational},
                       {"occupied", pool.occupied},
                       {"blocked", pool.blocked},
                       {"blocked_by_reason", pool.blocked_by_reason},
                       {"reserved", pool.reserved},
                       {"available", pool.available},
                       {"overbooked", pool.available < 0 ? -pool.available : 0}});
    }
    const RosterNode* node = replica.roster().find_node(centre.code);
    std::optional<std::int64_t> heard = node ? replica.last_heard_ms(*node) : std::nullopt;
    centres.push_back({{"centre", centre.code},
                       {"name", centre.name},
                       {"as_of", optional_ms(centre.as_of ? std::optional(centre.as_of->wall_ms) : std::nullopt)},
                       {"last_heard_ms", optional_ms(heard)},
                       {"last_heard_age_ms", optional_ms(heard ? std::optional(std::max<std::int64_t>(0, now - *heard)) : std::nullopt)},
                       {"pools", pools}});
  }
  nlohmann::json totals = nlohmann::json::object();
  for (const auto& [category, figures] : board.totals) totals[std::string(category_name(category))] = totals_json(figures);
  totals["national"] = totals_json(board.national);
  nlohmann::json json = {{"generated_at", now},
                         {"node", replica.name()},
                         {"network", replica.roster().network},
                         {"roster_version", replica.roster().version},
                         {"centres", centres},
                         {"totals", totals}};
  return json_text(json);
}

void get_dashboard(const Context&, const Call&, const Reply& reply) {
  Answer answer{200, std::string(dashboard_html), "text/html; charset=utf-8", {}};
  // Everything the page needs is in it: no request leaves for another host.
  answer.headers = {{"Content-Security-Policy",
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                     "frame-ancestors 'none'"},
                    {"X-Content-Type-Options", "nosniff"},
                    {"Referrer-Policy", "no-referrer"}};
  reply(std::move(answer));
}

void get_board(const Context& context, const Call&, const Reply& reply) {
  reply(Answer{200, board_document(context.replica), "application/json", {}});
}

}  // namespace placemesh::api
