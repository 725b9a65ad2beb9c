// The replica object: construction from what the store loaded, roster
// installation, the views (board, last heard, status), and what ties the
// intake path (node/intake_path) to the store: whether records from peers
// may be taken, and making what was taken durable. The command path is in
// command_path.cpp.
#include "node/replica.hpp"

#include <spdlog/spdlog.h>

#include "crdt/limits.hpp"

namespace placemesh {

Replica::Replica(Roster roster, std::string roster_text, const SecretKey& key, std::unique_ptr<Store> store,
                 Loaded loaded, Clock clock, Post post, ReplicaEvents& events)
    : roster_(std::move(roster)),
      roster_text_(std::move(roster_text)),
      key_(key),
      self_(roster_.find_node(key.public_key())),
      name_(self_ ? self_->name : std::string()),
      role_(self_ ? self_->role : NodeRole::centre),
      store_(std::move(store)),
      ledger_(std::move(loaded.ledger)),
      writer_(store_->origin(), loaded.last_seq, loaded.last_hlc),
      origin_text_(to_string(store_->origin())),
      clock_(std::move(clock)),
      post_(std::move(post)),
      events_(events),
      intake_(ledger_, roster_, writer_, clock_) {
  PM_REQUIRE(self_ != nullptr, "node key not in the roster:", to_hex(key.public_key()));
  PM_REQUIRE(self_->key == store_->origin().key, "store of another node");
  durable_seq_ = writer_.last_seq();
  update_room();
  find_unowned();
}

Result<bool> Replica::install_roster(const std::string& text, AdminTrust& trust) {
  auto roster = parse_roster(text, "offered roster");
  if (!roster) return roster.error();
  auto checked = trust.check(text, roster.value().network, "offered");
  if (!checked) return checked.error();
  if (roster.value().network != roster_.network)
    return make_error(Code::bad_config, "an offered roster is for network \"" + roster.value().network +
                                            "\", this node is in \"" + roster_.network + "\"");
  if (roster.value().version <= roster_.version) return false;
  if (roster.value().version - roster_.version > limits::roster_version_jump_max)
    return make_error(Code::roster_too_far_ahead,
                      "an offered roster has version " + std::to_string(roster.value().version) + ", more than " +
                          std::to_string(limits::roster_version_jump_max) + " past the installed version " +
                          std::to_string(roster_.version) +
                          "; sign the next roster with a version at most that far ahead (node/ROSTER.md)");
  Batch batch;
  batch.roster = text;
  AdminTrust next = trust;  // taken only once the roster is durable
  const auto replaced = next.trust(checked.value());
  if (next.retired_keys() != trust.retired_keys()) batch.retired_admin_keys = next.retired_keys();
  if (auto status = store_->write(std::move(batch)); !status) return status.error();
  trust = std::move(next);
  if (replaced)
    spdlog::warn("roster version {} hands the admin key over from {} to {}: rosters signed by the old key are "
                 "refused from now on; set admin_public_key in the config to the new key",
                 roster.value().version, to_hex(*replaced), to_hex(checked.value().signer));
  spdlog::info("installed roster version {} (was {}): {} nodes, {} revoked", roster.value().version, roster_.version,
               roster.value().nodes.size(), roster.value().revoked.size());
  roster_ = std::move(roster).value();
  roster_text_ = text;
  self_ = roster_.find_node(key_.public_key());
  if (self_ == nullptr) spdlog::error("this node is not in roster version {}: it refuses writes", roster_.version);
  find_unowned();
  return true;
}

Board Replica::board() const { return derive_board(ledger_, roster_.board_spec(), clock_()); }

std::optional<std::int64_t> Replica::last_heard_ms(const RosterNode& node) const {
  std::optional<std::int64_t> newest = last_heard_ms(node.key);
  for (const auto& key : node.retired_keys)
    if (auto heard = last_heard_ms(key); heard && (!newest || *heard > *newest)) newest = heard;
  return newest;
}

std::optional<std::int64_t> Replica::last_heard_ms(const PublicKey& key) const {
  if (key == key_.public_key()) return clock_();
  return intake_.last_heard_ms(key);
}

bool Replica::can_receive() const {
  // Otherwise the records are dropped before they reach the ledger: peers
  // resend them at the next anti-entropy round.
  return !failed_ && !stopping_ && !store_->read_only() && in_flight_ < limits::store_queue_max / 2;
}

Received Replica::receive_records(const std::vector<Record>& records) {
  if (!can_receive() || !room_for_peers(records.size())) return {};
  auto taken = intake_.records(records);
  if (taken.changed) changed();
  persist_received(taken.received.added, taken.knowledge_changed);
  return std::move(taken.received);
}

Received Replica::receive_delta(const Delta& delta) {
  if (!can_receive()) return {};
  std::size_t records = 0;
  for (const auto& part : delta.origins) records += part.records.size();
  if (records > 0 && !room_for_peers(records)) return {};
  auto taken = intake_.delta(delta);
  if (taken.changed) changed();
  persist_received(taken.received.added, taken.knowledge_changed);
  return std::move(taken.received);
}

void Replica::find_unowned() {
  unowned_.clear();
  for (const auto& [origin, knowledge] : ledger_.digest())
    if (roster_.owner_of(origin.key) == nullptr) unowned_.insert(origin);
  if (!unowned_.empty())
    spdlog::info("{} origins held here belong to no node of roster version {}: they are no longer offered to peers",
                 unowned_.size(), roster_.version);
}

const Digest& Replica::digest() const {
  if (unowned_.empty()) return ledger_.digest();
  offered_ = ledger_.digest();
  for (const auto& origin : unowned_) offered_.erase(origin);
  return offered_;
}

Delta Replica::delta_for(const Digest& peer) const {
  if (unowned_.empty()) return intake_.answer(peer, durable_seq_);
  // Answered as if the peer knew the unowned origins already, so that no
  // budget of the answer goes to records it would refuse.
  Digest asked = peer;
  for (const auto& origin : unowned_)
    if (auto found = ledger_.digest().find(origin); found != ledger_.digest().end()) asked[origin] = found->second;
  return intake_.answer(asked, durable_seq_);
}

void Replica::persist_received(const std::vector<Record>& added, const std::set<Origin>& also) {
  std::set<Origin> origins = also;
  for (const auto& record : added) origins.insert(record.origin);
  if (origins.empty()) return;
  Batch batch;
  // Only the newest record of each slot is kept in the store.
  std::map<std::pair<Origin, Key>, const Record*> newest;
  for (const auto& record : added) {
    auto& slot = newest[{record.origin, record.key}];
    if (slot == nullptr || slot->seq < record.seq) slot = &record;
  }
  for (const auto& [slot, record] : newest) batch.records.push_back(*record);
  const Digest& digest = ledger_.digest();
  for (const auto& origin : origins)
    if (auto found = digest.find(origin); found != digest.end()) batch.knowledge.emplace_back(origin, found->second);
  const std::size_t estimate = batch.records.size() * limits::store_record_bytes_estimate;
  peer_bytes_in_flight_ += estimate;
  ++in_flight_;
  store_->submit(std::move(batch), [this, estimate](Status status) {
    post_([this, estimate, status = std::move(status)] {
      peer_bytes_in_flight_ -= estimate;
      batch_done(status);
    });
  });
}


ReplicaStatus Replica::status() const {
  ReplicaStatus status;
  status.node = name_;
  status.origin = writer_.origin();
  status.seq = writer_.last_seq();
  status.records = ledger_.record_count();
  status.store = store_->stats();
  if (failed_) status.state = "recovering: " + failed_->message();
  else if (status.store.read_only) status.state = "read-only: " + store_->read_only_reason().message();
  else if (room_short_) status.state = "short of room: records from peers are refused; raise store.map_size_mb";
  else status.state = "ok";
  status.writable = !failed_ && !status.store.read_only;
  status.room_bytes = room_bytes_;
  status.margin_bytes = margin_bytes();
  status.refused_for_room = refused_for_room_;
  status.unowned_origins = unowned_.size();
  status.signatures_checked = intake_.signatures_checked();
  for (const auto& [key, counts] : intake_.quota_refusals()) {
    const RosterNode* node = roster_.owner_of(key);
    status.quota_refusals[node != nullptr ? node->name : to_hex(key)] = counts;
  }
  status.operations = operations_;
  status.replays = replays_;
  status.refusals = refusals_;
  status.refusals_unaudited = refusals_unaudited_;
  return status;
}

}  // namespace placemesh
