// The intake path: records from peers (eager push, relay, anti-entropy
// answers) → node/record_policy (signature, ownership) → the ledger → made
// durable in the background; and what this node answers a peer's digest
// with. See node/README.md.
#include <spdlog/spdlog.h>

#include "crdt/limits.hpp"
#include "node/record_policy.hpp"
#include "node/replica.hpp"

namespace placemesh {

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

}  // namespace placemesh
