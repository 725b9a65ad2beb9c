#include "node/board_json.hpp"

#include "node/json_text.hpp"

namespace placemesh {

namespace {

nlohmann::json totals_json(const Totals& totals) {
  return {{"design", totals.design},     {"operational", totals.operational},
          {"occupied", totals.occupied}, {"blocked", totals.blocked},
          {"reserved", totals.reserved}, {"available", totals.available},
          {"overbooked", totals.available < 0 ? -totals.available : 0}};
}

nlohmann::json optional_ms(std::optional<std::int64_t> ms) { return ms ? nlohmann::json(*ms) : nlohmann::json(); }

}  // namespace

std::string board_json(const Replica& replica) {
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
    std::optional<std::int64_t> heard = node ? replica.last_heard_ms(node->key) : std::nullopt;
    centres.push_back({{"centre", centre.code},
                       {"name", centre.name},
                       {"as_of", optional_ms(centre.as_of ? std::optional(centre.as_of->wall_ms) : std::nullopt)},
                       {"last_heard_ms", optional_ms(heard)},
                       {"last_heard_age_ms", optional_ms(heard ? std::optional(now - *heard) : std::nullopt)},
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

std::string status_json(const Replica& replica, std::int64_t started_ms, const std::optional<MeshStatus>& mesh) {
  const ReplicaStatus status = replica.status();
  nlohmann::json json = {{"node", status.node},
                         {"role", role_name(replica.role())},
                         {"network", replica.roster().network},
                         {"roster_version", replica.roster().version},
                         {"origin", to_string(status.origin)},
                         {"public_key", to_hex(status.origin.key)},
                         {"epoch", status.origin.epoch},
                         {"seq", status.seq},
                         {"records", status.records},
                         {"state", status.state},
                         {"uptime_ms", replica.now_ms() - started_ms},
                         {"operations", status.operations},
                         {"replays", status.replays},
                         {"refusals", status.refusals},
                         {"in_flight", replica.in_flight()},
                         {"equivocations", replica.equivocations()},
                         {"store",
                          {{"used_bytes", status.store.used_bytes},
                           {"map_bytes", status.store.map_bytes},
                           {"commits", status.store.commits},
                           {"batches", status.store.batches},
                           {"failed", status.store.failed},
                           {"commit_micros_total", status.store.commit_micros_total},
                           {"read_only", status.store.read_only}}}};
  if (mesh) {
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& peer : mesh->peers) {
      const GossipPeer& gossip = peer.gossip;
      nlohmann::json behind_seqs = nlohmann::json::object(), behind_ms = nlohmann::json::object();
      for (const auto& [name, lag] : peer.behind) {
        behind_seqs[name] = lag.seqs;
        behind_ms[name] = lag.ms;
      }
      peers.push_back({{"name", peer.name},
                       {"state", state_name(gossip.state)},
                       {"remote", peer.remote},
                       {"up_since_ms", optional_ms(gossip.up_since_ms)},
                       {"last_contact_ms", optional_ms(gossip.last_contact_ms)},
                       {"next_dial_ms", optional_ms(gossip.next_dial_ms)},
                       {"links", gossip.links},
                       {"messages_sent", gossip.messages_sent},
                       {"messages_received", gossip.messages_received},
                       {"dropped", gossip.messages_dropped},
                       {"records_sent", gossip.records_sent},
                       {"records_received", gossip.records_received},
                       {"records_added", gossip.records_added},
                       {"bytes_sent", gossip.bytes_sent},
                       {"bytes_received", gossip.bytes_received},
                       {"full_resyncs", gossip.full_resyncs},
                       {"refused", gossip.refused},
                       {"behind_seqs", behind_seqs},
                       {"behind_ms", behind_ms}});
    }
    json["peers"] = peers;
    json["rejections"] = mesh->rejections;
  }
  return json_text(json);
}

std::string error_json(const Error& error, std::string_view field) {
  nlohmann::json json = {{"ok", false}, {"error", code_name(error.code)}, {"message", error.message()}};
  if (!field.empty()) json["field"] = field;
  // Messages may quote bytes from the request: never fail on invalid UTF-8.
  return json_text(json);
}

}  // namespace placemesh
