// The replica object: construction from what the store loaded, roster
// installation, and the views (board, last heard, status). The command and
// intake paths are in replica_commands.cpp and replica_intake.cpp.
#include "node/replica.hpp"

#include <spdlog/spdlog.h>

#include "node/roster_signature.hpp"

namespace placemesh {

Replica::Replica(Roster roster, std::string roster_text, const SecretKey& key, std::unique_ptr<Store> store,
                 Loaded loaded, Clock clock, Post post)
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
      post_(std::move(post)) {
  PM_REQUIRE(self_ != nullptr, "node key not in the roster:", to_hex(key.public_key()));
  PM_REQUIRE(self_->key == store_->origin().key, "store of another node");
  durable_seq_ = writer_.last_seq();
}

Result<bool> Replica::install_roster(const std::string& text, const PublicKey& admin) {
  if (auto status = verify_roster(text, admin, "offered"); !status) return status.error();
  auto roster = parse_roster(text, "offered roster");
  if (!roster) return roster.error();
  if (roster.value().network != roster_.network)
    return make_error(Code::bad_config, "an offered roster is for network \"" + roster.value().network +
                                            "\", this node is in \"" + roster_.network + "\"");
  if (roster.value().version <= roster_.version) return false;
  Batch batch;
  batch.roster = text;
  if (auto status = store_->write(std::move(batch)); !status) return status.error();
  spdlog::info("installed roster version {} (was {}): {} nodes, {} revoked", roster.value().version, roster_.version,
               roster.value().nodes.size(), roster.value().revoked.size());
  roster_ = std::move(roster).value();
  roster_text_ = text;
  self_ = roster_.find_node(key_.public_key());
  if (self_ == nullptr) spdlog::error("this node is not in roster version {}: it refuses writes", roster_.version);
  return true;
}

Board Replica::board() const { return derive_board(ledger_, roster_.board_spec(), clock_()); }

std::optional<std::int64_t> Replica::last_heard_ms(const PublicKey& key) const {
  if (key == key_.public_key()) return clock_();
  if (auto found = last_heard_.find(key); found != last_heard_.end()) return found->second;
  return std::nullopt;
}

ReplicaStatus Replica::status() const {
  ReplicaStatus status;
  status.node = name_;
  status.origin = writer_.origin();
  status.seq = writer_.last_seq();
  status.records = ledger_.record_count();
  status.store = store_->stats();
  if (failed_) status.state = "recovering: " + failed_->message();
  else if (status.store.read_only) status.state = "read-only: the store is full; raise store.map_size_mb and restart";
  else status.state = "ok";
  status.operations = operations_;
  status.replays = replays_;
  status.refusals = refusals_;
  return status;
}

}  // namespace placemesh
