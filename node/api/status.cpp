#include "node/api/metrics.hpp"
#include "node/api/resources.hpp"

namespace placemesh::api {

namespace {

std::optional<MeshStatus> mesh_status(const Context& context) {
  return context.mesh ? std::optional(context.mesh->status()) : std::nullopt;
}

nlohmann::json status_document(const Replica& replica, std::int64_t started_ms, const std::optional<MeshStatus>& mesh) {
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
                         {"refusals_unaudited", status.refusals_unaudited},
                         {"in_flight", replica.in_flight()},
                         {"equivocations", replica.equivocations()},
                         {"unowned_origins", status.unowned_origins},
                         {"store",
                          {{"used_bytes", status.store.used_bytes},
                           {"map_bytes", status.store.map_bytes},
                           {"commits", status.store.commits},
                           {"batches", status.store.batches},
                           {"failed", status.store.failed},
                           {"commit_micros_total", status.store.commit_micros_total},
                           {"read_only", status.store.read_only},
                           {"room_bytes", status.room_bytes},
                           {"margin_bytes", status.margin_bytes},
                           {"records_refused_for_room", status.refused_for_room}}},
                         {"quota_refusals", status.quota_refusals}};
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
                       {"unasked_deltas", gossip.unasked_deltas},
                       {"backoffs", gossip.backoffs},
                       {"backed_off_until_ms", optional_ms(gossip.backed_off_until_ms)},
                       {"behind_seqs", behind_seqs},
                       {"behind_ms", behind_ms}});
    }
    json["peers"] = peers;
    json["rejections"] = mesh->rejections;
    json["checked_off_io_thread"] = {{"messages", mesh->checked_messages},
                                     {"records", mesh->checked_records},
                                     {"pauses", mesh->check_pauses},
                                     {"passed_unchecked", mesh->passed_unchecked},
                                     {"records_checked_at_once", status.signatures_checked}};
  }
  return json;
}


}  // namespace

void get_healthz(const Context& context, const Call&, const Reply& reply) {
  const auto status = context.replica.status();
  // Short of room is a warning (peers' records wait), not unhealthy: the
  // node still takes its centre's operations.
  reply(json_answer(status.writable ? 200 : 503,
                    {{"ok", status.writable}, {"node", status.node}, {"state", status.state}}));
}

void get_metrics(const Context& context, const Call&, const Reply& reply) {
  // Open like /healthz, as Prometheus scrapers expect: operational figures
  // only, no occupancy.
  reply(Answer{200, metrics_text(context.replica, context.started_ms, mesh_status(context), context.counters),
               "text/plain; version=0.0.4; charset=utf-8", {}});
}

void get_status(const Context& context, const Call&, const Reply& reply) {
  nlohmann::json json = status_document(context.replica, context.started_ms, mesh_status(context));
  json["admin_key"] = to_hex(context.core.admin_key());  // the key rosters are taken from
  nlohmann::json api_refused = nlohmann::json::object();
  for (const char* why : {"rate_limited", "connections_per_source", "streams_per_source"}) api_refused[why] = 0;
  for (const auto& [why, count] : context.counters.refused) api_refused[why] = count;
  json["api_refused"] = std::move(api_refused);
  reply(json_answer(200, json));
}

void get_session(const Context& context, const Call& call, const Reply& reply) {
  reply(json_answer(200, {{"token", call.token->name},
                          {"role", token_role_name(call.token->role)},
                          {"centre", call.token->centre},
                          {"node", context.replica.name()},
                          {"node_role", role_name(context.replica.role())}}));
}

}  // namespace placemesh::api
