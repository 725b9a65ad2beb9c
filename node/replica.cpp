#include "node/replica.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "node/json_text.hpp"

#include "crdt/limits.hpp"
#include "crdt/operations.hpp"
#include "net/record_signing.hpp"
#include "node/record_policy.hpp"
#include "node/roster_signature.hpp"

namespace placemesh {

std::string_view operation_name(OperationKind kind) {
  switch (kind) {
    case OperationKind::admit: return "admit";
    case OperationKind::release: return "release";
    case OperationKind::block: return "block";
    case OperationKind::unblock: return "unblock";
    case OperationKind::operational: return "operational";
  }
  return "admit";
}

bool is_valid_op_id(std::string_view id) {
  if (id.empty() || id.size() > limits::op_id_bytes_max) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.' || c == ':'))
      return false;
  return true;
}

std::string new_op_id() {
  std::array<std::uint8_t, 16> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // UUID version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);
  std::string hex(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::optional<OperationKind> operation_from_name(std::string_view name) {
  for (auto kind : {OperationKind::admit, OperationKind::release, OperationKind::block, OperationKind::unblock,
                    OperationKind::operational})
    if (operation_name(kind) == name) return kind;
  return std::nullopt;
}

namespace {

// What an op_id stands for: a retry must ask for the same thing.
std::string fingerprint(OperationKind kind, std::string_view pool, std::int64_t amount, std::string_view reason) {
  return std::string(operation_name(kind)) + "|" + std::string(pool) + "|" + std::to_string(amount) + "|" +
         std::string(reason);
}

std::string fingerprint(const OperationRequest& request) {
  return fingerprint(request.kind, request.pool,
                     request.kind == OperationKind::operational ? request.value : request.count, request.reason);
}

// The fingerprint of a stored receipt, or "" if it cannot be read.
std::string fingerprint(const std::string& receipt) {
  const auto json = nlohmann::json::parse(receipt, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return {};
  const auto kind = operation_from_name(json.value("operation", std::string()));
  if (!kind) return {};
  const char* amount = *kind == OperationKind::operational ? "value" : "count";
  return fingerprint(*kind, json.value("pool", std::string()), json.value(amount, std::int64_t{0}),
                     json.value("reason", std::string()));
}

Error reused(const std::string& op_id, const std::string& first) {
  return make_error(Code::op_id_reused, "op_id \"" + op_id + "\" was used for " + first +
                                            "; use a new op_id for a new operation");
}

}  // namespace

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

Result<Records> Replica::make_records(const OperationRequest& request, std::int64_t now) {
  switch (request.kind) {
    case OperationKind::admit: return admit(writer_, ledger_, request.pool, request.count, now);
    case OperationKind::release: return release(writer_, ledger_, request.pool, request.count, now);
    case OperationKind::block: return block(writer_, ledger_, request.pool, request.reason, request.count, now);
    case OperationKind::unblock:
      return unblock(writer_, ledger_, request.pool, request.reason, request.count, now);
    case OperationKind::operational: return set_operational(writer_, ledger_, request.pool, request.value, now);
  }
  PM_ASSERT(false, "unknown operation kind");
  return make_error(Code::malformed);
}

namespace {

// Appends `text` as a JSON string. The receipt is built by hand: it is on
// every operation's path, and a JSON object of std::maps cost a tenth of the
// io thread's time there (BENCHMARKS.md).
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_field(std::string& out, std::string_view name, std::int64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

}  // namespace

std::string Replica::receipt(const OperationRequest& request, const Record& last, std::int64_t now) const {
  const auto found = roster_.find_pool(request.pool);
  PM_ASSERT(found.has_value());
  const PoolFigures figures = pool_figures(ledger_, *found->second, now);
  std::string out;
  out.reserve(384);
  out += "{\"ok\":true,\"op_id\":";
  append_json_string(out, request.op_id);
  out += ",\"operation\":\"";
  out += operation_name(request.kind);
  out += "\",\"pool\":";
  append_json_string(out, request.pool);
  out += ",\"node\":";
  append_json_string(out, self_->name);
  out += ",\"origin\":\"";
  out += origin_text_;
  out += '"';
  append_field(out, "seq", static_cast<std::int64_t>(last.seq));
  append_field(out, "at_ms", last.hlc.wall_ms);
  if (request.kind == OperationKind::operational) append_field(out, "value", request.value);
  else append_field(out, "count", request.count);
  if (!request.reason.empty()) {
    out += ",\"reason\":";
    append_json_string(out, request.reason);
  }
  out += ",\"after\":{\"operational\":" + std::to_string(figures.operational);
  append_field(out, "occupied", figures.occupied);
  append_field(out, "blocked", figures.blocked);
  append_field(out, "reserved", figures.reserved);
  append_field(out, "available", figures.available);
  append_field(out, "overbooked", figures.available < 0 ? -figures.available : 0);
  out += "}}";
  return out;
}

void Replica::audit(const OperationRequest& request, std::string_view result) {
  // Nowhere to write it, or recovering: a refused request must not keep
  // the reload from happening (it waits for the batches in flight).
  if (failed_ || stopping_ || store_->read_only() || in_flight_ >= limits::store_queue_max) {
    spdlog::info("audit (not stored): {} {} by {}: {}", operation_name(request.kind), request.pool, request.actor,
                 result);
    return;
  }
  nlohmann::json line = {{"at_ms", clock_()},          {"actor", request.actor},   {"operation", operation_name(request.kind)},
                         {"pool", request.pool},        {"op_id", request.op_id},   {"result", result}};
  if (request.kind == OperationKind::operational) line["value"] = request.value;
  else line["count"] = request.count;
  if (!request.reason.empty()) line["reason"] = request.reason;
  Batch batch;
  batch.audit.push_back(json_text(line));
  ++in_flight_;
  store_->submit(std::move(batch), [this](Status status) {
    post_([this, status = std::move(status)] { batch_done(status); });
  });
}

void Replica::execute(OperationRequest request, Done done) {
  auto refuse = [&](Error error) {
    ++refusals_;
    spdlog::debug("{} {} by {} refused: {}", operation_name(request.kind), request.pool, request.actor,
                  error.message());
    audit(request, "refused: " + error.message());
    done(OperationOutcome{std::move(error), {}, false});
  };
  if (!is_valid_op_id(request.op_id))
    return refuse(make_error(Code::malformed, "op_id: expected 1 to " + std::to_string(limits::op_id_bytes_max) +
                                                  " of A-Z a-z 0-9 - _ . :"));
  if (auto waiting = pending_.find(request.op_id); waiting != pending_.end()) {
    if (waiting->second.fingerprint != fingerprint(request))
      return refuse(reused(request.op_id, waiting->second.fingerprint));
    ++replays_;
    waiting->second.callers.push_back(std::move(done));
    return;
  }
  auto known = store_->find_op(request.op_id);
  if (!known) return refuse(known.error());
  if (known.value()) {
    if (const auto first = fingerprint(*known.value()); first != fingerprint(request))
      return refuse(reused(request.op_id, first));
    ++replays_;
    return done(OperationOutcome{std::nullopt, std::move(*known.value()), true});
  }
  const auto found = roster_.find_pool(request.pool);
  if (!found) return refuse(make_error(Code::unknown_pool, "\"" + request.pool + "\" is not in roster version " +
                                                               std::to_string(roster_.version)));
  if (self_ == nullptr)
    return refuse(make_error(Code::not_owner, "this node is no longer in roster version " +
                                                  std::to_string(roster_.version)));
  if (found->first != self_)
    return refuse(make_error(Code::not_owner, request.pool + " belongs to node " + found->first->name +
                                                  "; send the operation to that node"));
  if (stopping_) return refuse(make_error(Code::busy, "the node is stopping"));
  if (failed_) return refuse(make_error(Code::busy, "recovering from a failed commit (" + failed_->message() + ")"));
  if (in_flight_ >= limits::store_queue_max)
    return refuse(make_error(Code::busy, std::to_string(in_flight_) + " operations are waiting for the disk"));
  if (store_->read_only()) return refuse(store_->read_only_reason());

  const std::int64_t now = clock_();
  auto records = make_records(request, now);
  if (!records) return refuse(records.error());
  PM_ASSERT(!records.value().empty());
  for (auto& record : records.value()) {
    sign_record(record, key_);
    auto applied = ledger_.apply_local(record);
    PM_ASSERT(applied.ok(), applied.ok() ? "" : applied.error().message());
  }
  changed();
  Batch batch;
  batch.records = std::move(records).value();
  batch.knowledge.emplace_back(writer_.origin(), ledger_.digest().at(writer_.origin()));
  batch.own = std::pair{writer_.last_seq(), writer_.clock().last()};
  std::string answer = receipt(request, batch.records.back(), now);
  batch.ops.emplace_back(request.op_id, answer);
  // The audit line is the receipt plus who and the result.
  PM_ASSERT(answer.size() > 2 && answer.back() == '}');
  std::string line = answer.substr(0, answer.size() - 1) + ",\"actor\":";
  append_json_string(line, request.actor);
  line += ",\"result\":\"ok\"}";
  batch.audit.push_back(std::move(line));
  ++operations_;
  ++in_flight_;
  spdlog::debug("{} {} by {} (op {}): seq {}", operation_name(request.kind), request.pool, request.actor,
                request.op_id, writer_.last_seq());
  auto& waiting = pending_[request.op_id];
  waiting.receipt = answer;
  waiting.fingerprint = fingerprint(request);
  waiting.callers.push_back(std::move(done));
  Records written = batch.records;
  store_->submit(std::move(batch), [this, op_id = request.op_id, written = std::move(written)](Status status) {
    post_([this, op_id, written, status = std::move(status)] {
      batch_done(status);
      if (status) durable_seq_ = std::max(durable_seq_, written.back().seq);
      committed(op_id, status);
      if (status && on_committed) on_committed(written);  // eager push: only what is durable leaves the node
    });
  });
}

void Replica::committed(const std::string& op_id, const Status& status) {
  auto node = pending_.extract(op_id);
  PM_ASSERT(!node.empty(), op_id);
  OperationOutcome outcome;
  if (status) {
    outcome.receipt = std::move(node.mapped().receipt);
  } else {
    outcome.error = status.error();
  }
  for (std::size_t i = 0; i < node.mapped().callers.size(); ++i) {
    OperationOutcome copy = outcome;
    copy.replayed = i > 0;
    node.mapped().callers[i](std::move(copy));
  }
}

void Replica::batch_done(const Status& status) {
  PM_ASSERT(in_flight_ > 0);
  --in_flight_;
  if (!status && !failed_) {
    failed_ = status.error();
    spdlog::error("commit failed: {}; refusing writes until the {} batches in flight are done, then reloading "
                  "the store",
                  failed_->message(), in_flight_);
  }
  if (failed_ && in_flight_ == 0) reload();
}

void Replica::reload() {
  // The ledger may hold records whose commit failed: start again from what
  // is durable. Their seqs were never sent anywhere (records leave the node
  // only after their commit), so reusing them is safe.
  auto loaded = store_->load();
  if (!loaded) {
    // Stay failed (writes refused); reads show what was applied. A restart
    // reads the store again.
    spdlog::critical("cannot reload the store: {}; restart the node", loaded.error().message());
    return;
  }
  ledger_ = std::move(loaded.value().ledger);
  changed();
  writer_ = Writer(store_->origin(), loaded.value().last_seq, loaded.value().last_hlc);
  durable_seq_ = writer_.last_seq();
  failed_.reset();
  spdlog::warn("reloaded the store after a failed commit: {} records, last seq {}; writes are refused: {}",
               ledger_.record_count(), writer_.last_seq(), store_->read_only_reason().message());
}

Replica::~Replica() {
  // The store's destructor drains its queue and runs the completions, which
  // call post_: destroy it while post_ still exists.
  store_.reset();
}

void Replica::stop() { stopping_ = true; }

void Replica::heartbeat() {
  if (failed_ || stopping_ || store_->read_only() || in_flight_ >= limits::store_queue_max) return;
  Record record = placemesh::heartbeat(writer_, clock_());
  sign_record(record, key_);
  auto applied = ledger_.apply_local(record);
  PM_ASSERT(applied.ok());
  changed();
  Batch batch;
  batch.records.push_back(record);
  batch.knowledge.emplace_back(writer_.origin(), ledger_.digest().at(writer_.origin()));
  batch.own = std::pair{writer_.last_seq(), writer_.clock().last()};
  ++in_flight_;
  store_->submit(std::move(batch), [this, record](Status status) {
    post_([this, record, status = std::move(status)] {
      batch_done(status);
      if (status) durable_seq_ = std::max(durable_seq_, record.seq);
      if (status && on_committed) on_committed({record});
    });
  });
}

bool Replica::can_receive() const {
  // Otherwise the records are dropped before they reach the ledger: peers
  // resend them at the next anti-entropy round.
  return !failed_ && !stopping_ && !store_->read_only() && in_flight_ < limits::store_queue_max / 2;
}

bool Replica::own_echo(const Record& record, Received& received) const {
  if (record.origin != writer_.origin()) return false;
  // Our own records come only from our store. One above our last seq means
  // this data directory is older than what we once sent.
  if (record.seq > writer_.last_seq())
    spdlog::error("ALARM a peer holds our own record seq {} above our last seq {}: was this data directory "
                  "restored from a backup? Move it aside to start as a new epoch",
                  record.seq, writer_.last_seq());
  received.refused.push_back(make_error(Code::invalid_record, "a record of this node's own origin"));
  return true;
}

Delta Replica::delta_for(const Digest& peer) const {
  Delta delta = ledger_.delta_since(peer, limits::records_per_frame_max);
  for (auto part = delta.origins.begin(); part != delta.origins.end();) {
    if (part->origin != writer_.origin() || part->through <= durable_seq_) {
      ++part;
      continue;
    }
    // Keep what is durable; claim knowledge only up to it.
    std::erase_if(part->records, [&](const Record& record) { return record.seq > durable_seq_; });
    std::erase_if(part->superseded, [&](std::uint64_t seq) { return seq > durable_seq_; });
    if (part->base >= durable_seq_) {
      part = delta.origins.erase(part);
      continue;
    }
    part->through = durable_seq_;
    ++part;
  }
  return delta;
}

Received Replica::receive_records(const std::vector<Record>& records) {
  Received received;
  if (!can_receive()) return received;
  for (const auto& record : records) {
    // Relays bring most records more than once, our own included: what is
    // already here (or superseded) needs no signature check.
    if (const Record* have = ledger_.find(record.origin, record.key);
        have != nullptr && (have->seq > record.seq || *have == record))
      continue;
    if (own_echo(record, received)) continue;
    if (auto status = admissible(record, roster_); !status) {
      received.refused.push_back(status.error());
      continue;
    }
    auto applied = ledger_.apply(record);
    if (!applied) {
      if (applied.error().code == Code::equivocation) {
        ++equivocations_;
        spdlog::error("ALARM equivocation: {} signed two different records with seq {}: {}",
                      short_name(record.origin), record.seq, applied.error().message());
      }
      received.refused.push_back(applied.error());
      continue;
    }
    last_heard_[record.origin.key] = clock_();
    if (applied.value() == Applied::added) received.added.push_back(record);
  }
  if (!received.added.empty()) changed();
  persist_received(received.added);
  return received;
}

Received Replica::receive_delta(const Delta& delta) {
  Received received;
  if (!can_receive()) return received;
  Delta accepted;
  accepted.truncated = delta.truncated;
  std::vector<Record> expected;  // records that will be new here
  for (const auto& part : delta.origins) {
    // One refused record voids its origin's part: applying the rest would
    // claim knowledge up to `through` without it.
    if (part.origin == writer_.origin()) {
      // A peer that got our newest records before our digest answers with
      // them: nothing new, and nothing wrong. Seqs above our last one are.
      if (part.through > writer_.last_seq()) {
        spdlog::error("ALARM a peer holds our own records up to seq {} above our last seq {}: was this data "
                      "directory restored from a backup? Move it aside to start as a new epoch",
                      part.through, writer_.last_seq());
        received.refused.push_back(make_error(Code::invalid_record, "a delta of this node's own origin"));
      }
      continue;
    }
    bool ok = true;
    for (const auto& record : part.records) {
      if (!ok) break;
      if (record.origin != part.origin) {
        received.refused.push_back(make_error(Code::invalid_record, "a delta record of another origin"));
        ok = false;
        break;
      }
      if (auto status = admissible(record, roster_); !status) {
        received.refused.push_back(status.error());
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    for (const auto& record : part.records) {
      const Record* have = ledger_.find(record.origin, record.key);
      if (have == nullptr || have->seq < record.seq) expected.push_back(record);
      last_heard_[record.origin.key] = clock_();
    }
    accepted.origins.push_back(part);
  }
  const Digest before = ledger_.digest();
  const DeltaStats stats = ledger_.apply_delta(accepted);
  if (stats.added > 0) changed();
  if (stats.first_rejection) {
    if (stats.first_rejection->code == Code::equivocation) {
      ++equivocations_;
      spdlog::error("ALARM equivocation in an anti-entropy answer: {}", stats.first_rejection->message());
    }
    received.refused.push_back(*stats.first_rejection);
  }
  for (const auto& record : expected) {
    const Record* now = ledger_.find(record.origin, record.key);
    if (now != nullptr && now->seq == record.seq && now->hlc == record.hlc) received.added.push_back(record);
  }
  // Knowledge may rise without new records (superseded seqs): persist it too,
  // but only where it changed.
  std::set<Origin> touched;
  for (const auto& part : accepted.origins) {
    const auto now = ledger_.digest().find(part.origin);
    const auto then = before.find(part.origin);
    if (now != ledger_.digest().end() && (then == before.end() || then->second != now->second))
      touched.insert(part.origin);
  }
  persist_received(received.added, touched);
  return received;
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
  ++in_flight_;
  store_->submit(std::move(batch), [this](Status status) {
    post_([this, status = std::move(status)] { batch_done(status); });
  });
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
