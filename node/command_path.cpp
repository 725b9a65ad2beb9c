// The command path: a local operation (the API's POST /v1/pools/…) → its
// checks and op_id → records signed by this node → applied to the ledger →
// one batch for the store's writer thread → answered with its receipt once
// durable (or refused, changing nothing). Also the audit log and the
// heartbeat. See node/README.md.
//
// Owns: this node's own origin (the Writer: seqs, HLC), the op-id table
// (pending_ and stored receipts), the operation counters.
// Must not touch: other origins' records (the intake path's), the roster
// (the node core's), anything but the store for durability.
#include <spdlog/spdlog.h>

#include "crdt/limits.hpp"
#include "crdt/operations.hpp"
#include "net/record_signing.hpp"
#include "node/json_text.hpp"
#include "node/replica.hpp"

namespace placemesh {

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
  const std::int64_t now = clock_();
  Batch batch;
  batch.at_ms = now;
  // A token in a loop of refused requests must not fill the store: the
  // first few of each minute are written one by one, the rest as a count.
  auto& window = refusal_windows_[request.actor];
  if (now - window.start_ms >= 60'000) {
    if (window.skipped > 0)
      batch.audit.push_back(json_text({{"at_ms", now},
                                       {"actor", request.actor},
                                       {"result", "refused: " + std::to_string(window.skipped) +
                                                      " more operations since at_ms " + std::to_string(window.start_ms) +
                                                      ", not written one by one"},
                                       {"refused_not_written", window.skipped}}));
    window = RefusalWindow{now, 0, 0};
  }
  if (window.written < limits::audit_refusals_per_minute) {
    ++window.written;
    nlohmann::json line = {{"at_ms", now},   {"actor", request.actor},     {"operation", operation_name(request.kind)},
                           {"pool", request.pool}, {"op_id", request.op_id}, {"result", result}};
    if (request.kind == OperationKind::operational) line["value"] = request.value;
    else line["count"] = request.count;
    if (!request.reason.empty()) line["reason"] = request.reason;
    batch.audit.push_back(json_text(line));
  } else {
    ++window.skipped;
    ++refusals_unaudited_;
  }
  if (batch.audit.empty()) return;
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
  batch.at_ms = now;
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
      if (status) events_.committed(written);  // eager push: only what is durable leaves the node
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
  if (status) update_room();
  if (in_flight_ == 0) try_resume(false);  // a grow that waited for the batches in flight
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
  intake_.ledger_replaced();
  changed();
  writer_ = Writer(store_->origin(), loaded.value().last_seq, loaded.value().last_hlc);
  durable_seq_ = writer_.last_seq();
  failed_.reset();
  resume_refusal_logged_ = false;
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
  try_resume(true);  // a full store: is there room again?
  if (failed_ || stopping_ || store_->read_only() || in_flight_ >= limits::store_queue_max) return;
  const std::int64_t now = clock_();
  Record record = placemesh::heartbeat(writer_, now);
  sign_record(record, key_);
  auto applied = ledger_.apply_local(record);
  PM_ASSERT(applied.ok());
  changed();
  Batch batch;
  batch.at_ms = now;  // old op ids are pruned in its commit too
  batch.records.push_back(record);
  batch.knowledge.emplace_back(writer_.origin(), ledger_.digest().at(writer_.origin()));
  batch.own = std::pair{writer_.last_seq(), writer_.clock().last()};
  ++in_flight_;
  store_->submit(std::move(batch), [this, record](Status status) {
    post_([this, record, status = std::move(status)] {
      batch_done(status);
      if (status) durable_seq_ = std::max(durable_seq_, record.seq);
      if (status) events_.committed({record});
    });
  });
}

}  // namespace placemesh
