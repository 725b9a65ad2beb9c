#include "node/intake_path.hpp"

#include <spdlog/spdlog.h>

#include "crdt/limits.hpp"
#include "node/record_policy.hpp"

namespace placemesh {

IntakePath::IntakePath(Ledger& ledger, const Roster& roster, const Writer& own, Clock clock)
    : ledger_(ledger), roster_(roster), own_(own), clock_(std::move(clock)) {}

std::optional<std::int64_t> IntakePath::last_heard_ms(const PublicKey& key) const {
  if (auto found = last_heard_.find(key); found != last_heard_.end()) return found->second;
  return std::nullopt;
}

void IntakePath::equivocation(const Error& error, const char* where) {
  ++equivocations_;
  spdlog::error("ALARM equivocation in {}: {}", where, error.message());
}

bool IntakePath::own_echo(const Record& record, Received& received) const {
  if (record.origin != own_.origin()) return false;
  // Our own records come only from our store. One above our last seq means
  // this data directory is older than what we once sent.
  if (record.seq > own_.last_seq())
    spdlog::error("ALARM a peer holds our own record seq {} above our last seq {}: was this data directory "
                  "restored from a backup? Move it aside to start as a new epoch",
                  record.seq, own_.last_seq());
  received.refused.push_back(make_error(Code::invalid_record, "a record of this node's own origin"));
  return true;
}

Delta IntakePath::answer(const Digest& peer, std::uint64_t durable_seq) const {
  Delta delta = ledger_.delta_since(peer, limits::records_per_frame_max);
  for (auto part = delta.origins.begin(); part != delta.origins.end();) {
    if (part->origin != own_.origin() || part->through <= durable_seq) {
      ++part;
      continue;
    }
    // Keep what is durable; claim knowledge only up to it.
    std::erase_if(part->records, [&](const Record& record) { return record.seq > durable_seq; });
    std::erase_if(part->superseded, [&](std::uint64_t seq) { return seq > durable_seq; });
    if (part->base >= durable_seq) {
      part = delta.origins.erase(part);
      continue;
    }
    part->through = durable_seq;
    ++part;
  }
  return delta;
}

IntakePath::Taken IntakePath::records(const std::vector<Record>& records) {
  Taken taken;
  Received& received = taken.received;
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
      if (applied.error().code == Code::equivocation) equivocation(applied.error(), "a pushed record");
      received.refused.push_back(applied.error());
      continue;
    }
    last_heard_[record.origin.key] = clock_();
    if (applied.value() == Applied::added) received.added.push_back(record);
  }
  taken.changed = !received.added.empty();
  return taken;
}

IntakePath::Taken IntakePath::delta(const Delta& delta) {
  Taken taken;
  Received& received = taken.received;
  Delta accepted;
  accepted.truncated = delta.truncated;
  std::vector<Record> expected;  // records that will be new here
  for (const auto& part : delta.origins) {
    // One refused record voids its origin's part: applying the rest would
    // claim knowledge up to `through` without it.
    if (part.origin == own_.origin()) {
      // A peer that got our newest records before our digest answers with
      // them: nothing new, and nothing wrong. Seqs above our last one are.
      if (part.through > own_.last_seq()) {
        spdlog::error("ALARM a peer holds our own records up to seq {} above our last seq {}: was this data "
                      "directory restored from a backup? Move it aside to start as a new epoch",
                      part.through, own_.last_seq());
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
  taken.changed = stats.added > 0;
  if (stats.first_rejection) {
    if (stats.first_rejection->code == Code::equivocation) equivocation(*stats.first_rejection, "an anti-entropy answer");
    received.refused.push_back(*stats.first_rejection);
  }
  for (const auto& record : expected) {
    const Record* now = ledger_.find(record.origin, record.key);
    if (now != nullptr && now->seq == record.seq && now->hlc == record.hlc) received.added.push_back(record);
  }
  // Knowledge may rise without new records (superseded seqs): persist it too,
  // but only where it changed.
  for (const auto& part : accepted.origins) {
    const auto now = ledger_.digest().find(part.origin);
    const auto then = before.find(part.origin);
    if (now != ledger_.digest().end() && (then == before.end() || then->second != now->second))
      taken.knowledge_changed.insert(part.origin);
  }
  return taken;
}

}  // namespace placemesh
