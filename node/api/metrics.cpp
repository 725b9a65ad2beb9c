#include "node/api/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "node/roster.hpp"

namespace placemesh {

namespace {

// Label values escape backslash, double quote and newline.
std::string escaped(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Exposition {
 public:
  // One family: its HELP and TYPE lines, once.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(std::string_view name, const std::map<std::string, std::string>& labels, double value) {
    out_ << name;
    if (!labels.empty()) {
      out_ << '{';
      bool first = true;
      for (const auto& [label, text] : labels) {
        out_ << (first ? "" : ",") << label << "=\"" << escaped(text) << '"';
        first = false;
      }
      out_ << '}';
    }
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out_ << ' ' << number << '\n';
  }
  void single(std::string_view name, std::string_view type, std::string_view help, double value,
              const std::map<std::string, std::string>& labels = {}) {
    family(name, type, help);
    sample(name, labels, value);
  }
  [[nodiscard]] std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

std::string metrics_text(const Replica& replica, std::int64_t started_ms, const std::optional<MeshStatus>& mesh,
                         const ApiCounters& api) {
  const ReplicaStatus status = replica.status();
  const std::int64_t now = replica.now_ms();
  Exposition out;
  out.single("placemesh_info", "gauge", "This node: name, role, network and roster version (always 1).", 1,
             {{"node", status.node},
              {"role", std::string(role_name(replica.role()))},
              {"network", replica.roster().network},
              {"roster_version", std::to_string(replica.roster().version)}});
  out.single("placemesh_uptime_seconds", "gauge", "Seconds since placemeshd started.", seconds(now - started_ms));
  out.single("placemesh_ok", "gauge", "1 when the node accepts writes, 0 when read-only or recovering.",
             status.writable ? 1 : 0);
  out.single("placemesh_seq", "gauge", "This node's last record seq in its current epoch.",
             static_cast<double>(status.seq));
  out.single("placemesh_records", "gauge", "Records in the merged state (every origin).",
             static_cast<double>(status.records));
  out.family("placemesh_operations_total", "counter", "Operations answered, by result.");
  out.sample("placemesh_operations_total", {{"result", "applied"}}, static_cast<double>(status.operations));
  out.sample("placemesh_operations_total", {{"result", "replayed"}}, static_cast<double>(status.replays));
  out.sample("placemesh_operations_total", {{"result", "refused"}}, static_cast<double>(status.refusals));
  out.single("placemesh_operations_refused_unaudited_total", "counter",
             "Refused operations counted but not written one by one to the audit log (over its share per token and minute).",
             static_cast<double>(status.refusals_unaudited));
  out.single("placemesh_operations_in_flight", "gauge", "Operations waiting for the store.",
             static_cast<double>(replica.in_flight()));
  out.single("placemesh_equivocations_total", "counter",
             "Alarms: an origin signed two different records with one seq.",
             static_cast<double>(replica.equivocations()));

  const StoreStats& store = status.store;
  out.single("placemesh_store_used_bytes", "gauge", "LMDB pages in use, in bytes.", static_cast<double>(store.used_bytes));
  out.single("placemesh_store_map_bytes", "gauge", "The LMDB map size (store.map_size_mb), in bytes.",
             static_cast<double>(store.map_bytes));
  out.single("placemesh_store_read_only", "gauge",
             "1 once a commit failed: until there is room again (full map or disk), or until a restart (I/O error).",
             store.read_only ? 1 : 0);
  out.single("placemesh_store_room_bytes", "gauge", "Bytes the map can still take without growing.",
             static_cast<double>(status.room_bytes));
  out.single("placemesh_store_margin_bytes", "gauge",
             "Of the map, the room kept for this node's own operations: below it, records from peers are refused.",
             static_cast<double>(status.margin_bytes));
  out.single("placemesh_records_refused_for_room_total", "counter",
             "Records from peers refused because less than the margin was left in the map (peers send them again).",
             static_cast<double>(status.refused_for_room));
  out.family("placemesh_quota_refused_total", "counter",
             "Records of a member refused for its quotas here (epochs, cloud, keys, open_holds), by member.");
  for (const auto& [member, counts] : status.quota_refusals)
    for (const auto& [quota, count] : counts)
      out.sample("placemesh_quota_refused_total", {{"node", member}, {"quota", quota}}, static_cast<double>(count));
  out.single("placemesh_store_commits_total", "counter", "Group commits (one sync each).",
             static_cast<double>(store.commits));
  out.single("placemesh_store_batches_total", "counter", "Batches written (several per commit under load).",
             static_cast<double>(store.batches));
  out.single("placemesh_store_failed_batches_total", "counter", "Batches whose commit failed.",
             static_cast<double>(store.failed));
  out.family("placemesh_store_commit_seconds", "histogram", "Time to write and sync one group commit.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < commit_buckets_us.size(); ++i) {
    cumulative += store.commit_buckets[i];
    char bound[32];
    std::snprintf(bound, sizeof bound, "%g", static_cast<double>(commit_buckets_us[i]) / 1e6);
    out.sample("placemesh_store_commit_seconds_bucket", {{"le", bound}}, static_cast<double>(cumulative));
  }
  cumulative += store.commit_buckets.back();
  out.sample("placemesh_store_commit_seconds_bucket", {{"le", "+Inf"}}, static_cast<double>(cumulative));
  out.sample("placemesh_store_commit_seconds_sum", {}, static_cast<double>(store.commit_micros_total) / 1e6);
  out.sample("placemesh_store_commit_seconds_count", {}, static_cast<double>(cumulative));

  out.family("placemesh_node_last_heard_seconds", "gauge",
             "Seconds since the newest time each roster node signed on a record taken here (0 for this node).");
  for (const auto& node : replica.roster().nodes)
    if (auto heard = replica.last_heard_ms(node))
      out.sample("placemesh_node_last_heard_seconds", {{"node", node.name}},
                 seconds(std::max<std::int64_t>(0, now - *heard)));  // a clock ahead: 0

  if (mesh) {
    struct Family {
      const char* name;
      const char* type;
      const char* help;
      std::uint64_t GossipPeer::*field;
    };
    static constexpr Family counters[] = {
        {"placemesh_peer_links_total", "counter", "Times a link to the peer came up.", &GossipPeer::links},
        {"placemesh_peer_messages_sent_total", "counter", "Messages queued to the peer.", &GossipPeer::messages_sent},
        {"placemesh_peer_messages_received_total", "counter", "Messages from the peer.",
         &GossipPeer::messages_received},
        {"placemesh_peer_messages_dropped_total", "counter",
         "Messages not queued to the peer (send queue full); anti-entropy repairs them.",
         &GossipPeer::messages_dropped},
        {"placemesh_peer_records_sent_total", "counter", "Records sent to the peer (push, relay, answers).",
         &GossipPeer::records_sent},
        {"placemesh_peer_records_received_total", "counter", "Records received from the peer.",
         &GossipPeer::records_received},
        {"placemesh_peer_records_added_total", "counter", "Records from the peer that were new here.",
         &GossipPeer::records_added},
        {"placemesh_peer_bytes_sent_total", "counter", "Message bytes sent to the peer (before sealing).",
         &GossipPeer::bytes_sent},
        {"placemesh_peer_bytes_received_total", "counter", "Message bytes received from the peer.",
         &GossipPeer::bytes_received},
        {"placemesh_peer_full_resyncs_total", "counter",
         "Answers to a digest of the peer that knew nothing of an origin we hold (a new or wiped node).",
         &GossipPeer::full_resyncs},
        {"placemesh_peer_refused_total", "counter",
         "Records and messages from the peer that were refused (reasons in placemesh_rejections_total).",
         &GossipPeer::refused},
        {"placemesh_peer_unasked_deltas_total", "counter",
         "Deltas from the peer that answered no digest of ours (refused).", &GossipPeer::unasked_deltas},
        {"placemesh_peer_backoffs_total", "counter",
         "Times the link to the peer was closed and the peer backed off for misbehaving.", &GossipPeer::backoffs},
    };
    out.family("placemesh_peer_up", "gauge", "1 when the link to the peer is up.");
    for (const auto& peer : mesh->peers)
      out.sample("placemesh_peer_up", {{"peer", peer.name}}, peer.gossip.state == GossipPeer::State::up ? 1 : 0);
    out.family("placemesh_peer_last_contact_seconds", "gauge", "Seconds since the peer last sent anything.");
    for (const auto& peer : mesh->peers)
      if (peer.gossip.last_contact_ms)
        out.sample("placemesh_peer_last_contact_seconds", {{"peer", peer.name}},
                   seconds(now - *peer.gossip.last_contact_ms));
    for (const auto& family : counters) {
      out.family(family.name, family.type, family.help);
      for (const auto& peer : mesh->peers)
        out.sample(family.name, {{"peer", peer.name}}, static_cast<double>(peer.gossip.*family.field));
    }
    out.family("placemesh_peer_behind_seqs", "gauge",
               "How many seqs of each origin node's records the peer lacks compared with this node.");
    for (const auto& peer : mesh->peers)
      for (const auto& [origin, lag] : peer.behind)
        out.sample("placemesh_peer_behind_seqs", {{"peer", peer.name}, {"origin", origin}},
                   static_cast<double>(lag.seqs));
    out.family("placemesh_peer_behind_seconds", "gauge",
               "For those, how old the peer's knowledge is (since its last digest level with ours).");
    for (const auto& peer : mesh->peers)
      for (const auto& [origin, lag] : peer.behind)
        out.sample("placemesh_peer_behind_seconds", {{"peer", peer.name}, {"origin", origin}}, seconds(lag.ms));
    out.family("placemesh_rejections_total", "counter", "Refused links, frames and records, by reason.");
    for (const auto& [reason, count] : mesh->rejections)
      out.sample("placemesh_rejections_total", {{"reason", reason}}, static_cast<double>(count));
    out.family("placemesh_digest_left_out_total", "counter",
               "Origins and cloud seqs left out of digests sent, to stay within the limits peers hold them to.");
    out.sample("placemesh_digest_left_out_total", {{"what", "origins"}},
               static_cast<double>(mesh->digest_left_out.origins));
    out.sample("placemesh_digest_left_out_total", {{"what", "cloud_seqs"}},
               static_cast<double>(mesh->digest_left_out.cloud_seqs));
    out.single("placemesh_records_checked_off_io_total", "counter",
               "Records from peers whose signatures were checked on the verifier thread (large messages).",
               static_cast<double>(mesh->checked_records));
    out.single("placemesh_inbound_pauses_total", "counter",
               "Times a link was not read from because its messages waiting for the verifier passed 8 MiB.",
               static_cast<double>(mesh->check_pauses));
    out.single("placemesh_inbound_passed_unchecked_total", "counter",
               "Large messages from peers passed on unchecked (and refused whole) while the node took no records.",
               static_cast<double>(mesh->passed_unchecked));
  }

  out.family("placemesh_http_responses_total", "counter", "HTTP API answers, by status code.");
  for (const auto& [code, count] : api.answers)
    out.sample("placemesh_http_responses_total", {{"code", std::to_string(code)}}, static_cast<double>(count));
  out.family("placemesh_http_refused_total", "counter",
             "API requests and connections refused before they were served, by why.");
  for (const char* why : {"rate_limited", "connections_per_source", "streams_per_source"}) {
    const auto found = api.refused.find(why);
    out.sample("placemesh_http_refused_total", {{"why", why}},
               static_cast<double>(found == api.refused.end() ? 0 : found->second));
  }
  return out.text();
}

}  // namespace placemesh
