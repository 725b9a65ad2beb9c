#include "node/intake_path.hpp"

#include <spdlog/spdlog.h>

#include "crdt/limits.hpp"
#include "node/record_policy.hpp"

namespace placemesh {

IntakePath::IntakePath(Ledger& ledger, const Roster& roster, const Writer& own, Clock clock, Quotas quotas)
    : ledger_(ledger), roster_(roster), own_(own), clock_(std::move(clock)), quotas_(quotas) {
  // What the store holds says when each node last spoke: after a restart a
  // dead centre is shown as dead at once, not as unknown.
  ledger_.for_each_record([this](const Record& record) { heard(record); });
  ledger_replaced();
}

void IntakePath::ledger_replaced() {
  open_holds_.clear();
  ledger_.for_each_record([this](const Record& record) {
    if (record.origin != own_.origin()) holds_changed(std::nullopt, record);
  });
}

namespace {
// The expiry of a held reservation, or nothing for any other record.
std::optional<std::int64_t> held_until(const Record& record) {
  if (record.key.field != Field::reservation) return std::nullopt;
  const auto* reservation = std::get_if<Reservation>(&record.value);
  if (reservation == nullptr || reservation->state != ReservationState::held) return std::nullopt;
  return reservation->expires_at_ms;
}

// How many open holds of its origin taking `record` opens (1), closes (-1)
// or leaves (0), `have` being the record of the same slot it replaces.
int hold_change(const Record& record, const Record* have, std::int64_t now_ms) {
  const auto until = held_until(record);
  const auto was = have != nullptr ? held_until(*have) : std::nullopt;
  return (until && *until > now_ms ? 1 : 0) - (was && *was > now_ms ? 1 : 0);
}
}  // namespace

void IntakePath::holds_changed(std::optional<std::int64_t> previous, const Record& record) {
  auto& expiries = open_holds_[{record.origin.key, record.key.pool}];
  if (previous)
    if (const auto it = expiries.find(*previous); it != expiries.end()) expiries.erase(it);
  if (const auto until = held_until(record)) expiries.insert(*until);
}

std::size_t IntakePath::open_holds(const PublicKey& key, const std::string& pool, std::int64_t now_ms) {
  const auto found = open_holds_.find({key, pool});
  if (found == open_holds_.end()) return 0;
  // Expired holds stop counting; dropping them keeps each count cheap. (A
  // hold replaced after it expired finds nothing to erase: it is gone.)
  found->second.erase(found->second.begin(), found->second.upper_bound(now_ms));
  return found->second.size();
}

std::size_t IntakePath::keys_of(const PublicKey& key) const {
  std::size_t keys = 0;
  const Digest& known = ledger_.digest();
  for (auto it = known.lower_bound(Origin{key, 0}); it != known.end() && it->first.key == key; ++it)
    keys += ledger_.record_count(it->first);
  return keys;
}

Status IntakePath::key_room(const Record& record, const Pending& pending) const {
  if (ledger_.find(record.origin, record.key) != nullptr) return Ok{};  // replaces a record: no new key
  const auto more = pending.keys.find(record.origin.key);
  const std::size_t keys = keys_of(record.origin.key) + (more == pending.keys.end() ? 0 : more->second);
  if (keys < quotas_.keys) return Ok{};
  return make_error(Code::quota_exceeded, "a record of " + name_of(record.origin) + " for a new key (" +
                                              to_string(record.key) + ") refused: its key has " +
                                              std::to_string(keys) + " keys here, the most a key may have");
}

Status IntakePath::hold_room(const Record& record, const Pending& pending, std::int64_t now_ms) {
  // Holding the same reservation again, or closing one, opens nothing new.
  if (hold_change(record, ledger_.find(record.origin, record.key), now_ms) <= 0) return Ok{};
  auto open = static_cast<std::int64_t>(open_holds(record.origin.key, record.key.pool, now_ms));
  if (const auto more = pending.holds.find({record.origin.key, record.key.pool}); more != pending.holds.end())
    open = std::max<std::int64_t>(0, open + more->second);
  if (open < static_cast<std::int64_t>(quotas_.open_holds)) return Ok{};
  return make_error(Code::quota_exceeded, "a hold of " + name_of(record.origin) + " in " + record.key.pool +
                                              " refused: its key has " + std::to_string(open) +
                                              " open holds there, the most a key may have");
}

void IntakePath::refuse_for_quota(Received& received, const Origin& origin, const char* quota, const Error& error) {
  // Counted only against roster members (a part may name any key).
  if (roster_.owner_of(origin.key) != nullptr) ++quota_refusals_[origin.key][quota];
  received.refused.push_back(error);
}

void IntakePath::heard(const Record& record) {
  // The origin's own signed stamp, not when the record reached us: a relay,
  // or a replay, of an old record does not make its centre look alive.
  auto [at, inserted] = last_heard_.try_emplace(record.origin.key, record.hlc.wall_ms);
  if (!inserted) at->second = std::max(at->second, record.hlc.wall_ms);
}

bool IntakePath::vouched(const Record& record) const {
  return vouched_ != nullptr && !vouched_->empty() && vouched_->contains(record_print(record));
}

Status IntakePath::admit(const Record& record) {
  const bool checked = vouched(record);
  if (!checked) ++signatures_checked_;
  return admissible(record, roster_, checked);
}

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

std::string IntakePath::name_of(const Origin& origin) const {
  const RosterNode* node = roster_.owner_of(origin.key);
  return (node != nullptr ? node->name : short_name(origin)) + " epoch " + std::to_string(origin.epoch);
}

Status IntakePath::epoch_room(const Origin& origin, std::size_t pending) const {
  const Digest& known = ledger_.digest();
  if (known.contains(origin)) return Ok{};
  std::size_t epochs = pending;
  for (auto it = known.lower_bound(Origin{origin.key, 0}); it != known.end() && it->first.key == origin.key; ++it)
    ++epochs;
  if (epochs < limits::epochs_per_key_max) return Ok{};
  return make_error(Code::quota_exceeded, "records of " + name_of(origin) + " refused: its key has " +
                                              std::to_string(epochs) + " epochs here already, the most a key may " +
                                              "have; if that node lost its disk this often, give it a new key in "
                                              "the roster");
}

Status IntakePath::cloud_room(const Origin& origin, std::uint64_t seq) const {
  const Digest& known = ledger_.digest();
  const auto found = known.find(origin);
  if (found == known.end() || seq <= found->second.through + 1 || found->second.cloud.contains(seq) ||
      found->second.cloud.size() < limits::cloud_seqs_per_origin_max)
    return Ok{};
  return make_error(Code::quota_exceeded, "seq " + std::to_string(seq) + " of " + name_of(origin) + " dropped: " +
                                              std::to_string(found->second.cloud.size()) +
                                              " seqs above a gap at " + std::to_string(found->second.through + 1) +
                                              " are held already; anti-entropy closes the gap first");
}

Status IntakePath::part_room(const OriginDelta& part) const {
  static const OriginKnowledge nothing{};
  const Digest& known = ledger_.digest();
  const auto found = known.find(part.origin);
  const OriginKnowledge& ours = found == known.end() ? nothing : found->second;
  // Where `through` will stand once the part is applied (Ledger::apply_delta).
  std::uint64_t newest = ours.cloud.empty() ? ours.through : *ours.cloud.rbegin();
  for (const auto& record : part.records) newest = std::max(newest, record.seq);
  const std::uint64_t through =
      ours.through >= part.base ? std::max(ours.through, std::min(part.through, newest)) : ours.through;
  std::set<std::uint64_t> cloud(ours.cloud.upper_bound(through), ours.cloud.end());
  for (const auto& record : part.records)
    if (record.seq > through) cloud.insert(record.seq);
  for (const std::uint64_t seq : part.superseded)
    if (seq > through) cloud.insert(seq);
  if (cloud.size() <= limits::cloud_seqs_per_origin_max) return Ok{};
  return make_error(Code::quota_exceeded, "an answer about " + name_of(part.origin) + " refused: it would leave " +
                                              std::to_string(cloud.size()) + " seqs held above a gap at " +
                                              std::to_string(through + 1));
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
  const Pending nothing_pending;  // each record is applied before the next is checked
  const std::int64_t now_ms = clock_();
  for (const auto& record : records) {
    // Relays bring most records more than once, our own included: what is
    // already here (or superseded) needs no signature check.
    if (const Record* have = ledger_.find(record.origin, record.key);
        have != nullptr && (have->seq > record.seq || *have == record))
      continue;
    if (own_echo(record, received)) continue;
    if (auto status = admit(record); !status) {
      received.refused.push_back(status.error());
      continue;
    }
    if (auto status = timely(record, now_ms); !status) {
      received.refused.push_back(status.error());
      continue;
    }
    if (auto status = epoch_room(record.origin); !status) {
      refuse_for_quota(received, record.origin, "epochs", status.error());
      continue;
    }
    if (auto status = cloud_room(record.origin, record.seq); !status) {
      refuse_for_quota(received, record.origin, "cloud", status.error());
      continue;
    }
    if (auto status = key_room(record, nothing_pending); !status) {
      refuse_for_quota(received, record.origin, "keys", status.error());
      continue;
    }
    if (auto status = hold_room(record, nothing_pending, now_ms); !status) {
      refuse_for_quota(received, record.origin, "open_holds", status.error());
      continue;
    }
    const Record* have = ledger_.find(record.origin, record.key);
    const auto previous = have != nullptr ? held_until(*have) : std::nullopt;
    auto applied = ledger_.apply(record);
    if (!applied) {
      if (applied.error().code == Code::equivocation) equivocation(applied.error(), "a pushed record");
      received.refused.push_back(applied.error());
      continue;
    }
    heard(record);
    if (applied.value() == Applied::added) {
      holds_changed(previous, record);
      received.added.push_back(record);
    }
  }
  taken.changed = !received.added.empty();
  return taken;
}

IntakePath::Taken IntakePath::delta(const Delta& delta) {
  Taken taken;
  Received& received = taken.received;
  Delta accepted;
  accepted.truncated = delta.truncated;
  // Records that will be new here, with the expiry of the hold each replaces.
  std::vector<std::pair<std::optional<std::int64_t>, Record>> expected;
  Pending pending;  // new keys and holds of the parts accepted so far
  std::map<PublicKey, std::size_t> new_epochs;  // of each key, in the parts accepted so far
  const std::int64_t now_ms = clock_();
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
    if (auto status = epoch_room(part.origin, new_epochs[part.origin.key]); !status) {
      refuse_for_quota(received, part.origin, "epochs", status.error());
      continue;
    }
    if (auto status = part_room(part); !status) {
      refuse_for_quota(received, part.origin, "cloud", status.error());
      continue;
    }
    bool ok = true;
    Pending trial = pending;  // with this part's new keys and holds
    for (const auto& record : part.records) {
      if (!ok) break;
      if (record.origin != part.origin) {
        received.refused.push_back(make_error(Code::invalid_record, "a delta record of another origin"));
        ok = false;
        break;
      }
      if (auto status = admit(record); !status) {
        received.refused.push_back(status.error());
        ok = false;
        break;
      }
      if (auto status = timely(record, now_ms); !status) {
        received.refused.push_back(status.error());
        ok = false;
        break;
      }
      if (auto status = key_room(record, trial); !status) {
        refuse_for_quota(received, record.origin, "keys", status.error());
        ok = false;
        break;
      }
      if (auto status = hold_room(record, trial, now_ms); !status) {
        refuse_for_quota(received, record.origin, "open_holds", status.error());
        ok = false;
        break;
      }
      const Record* have = ledger_.find(record.origin, record.key);
      if (have == nullptr) ++trial.keys[record.origin.key];
      // A cancel or confirm in the same answer makes room, as it does when pushed.
      if (const int change = hold_change(record, have, now_ms); change != 0)
        trial.holds[{record.origin.key, record.key.pool}] += change;
    }
    if (!ok) continue;
    pending = std::move(trial);
    for (const auto& record : part.records) {
      const Record* have = ledger_.find(record.origin, record.key);
      if (have == nullptr || have->seq < record.seq)
        expected.push_back({have != nullptr ? held_until(*have) : std::nullopt, record});
      heard(record);
    }
    if (!ledger_.digest().contains(part.origin)) ++new_epochs[part.origin.key];
    accepted.origins.push_back(part);
  }
  const Digest before = ledger_.digest();
  const DeltaStats stats = ledger_.apply_delta(accepted);
  taken.changed = stats.added > 0;
  if (stats.first_rejection) {
    if (stats.first_rejection->code == Code::equivocation) equivocation(*stats.first_rejection, "an anti-entropy answer");
    received.refused.push_back(*stats.first_rejection);
  }
  std::set<std::pair<Origin, std::uint64_t>> counted;  // a record sent twice in one answer is taken once
  for (const auto& [previous, record] : expected) {
    const Record* now = ledger_.find(record.origin, record.key);
    if (now != nullptr && now->seq == record.seq && now->hlc == record.hlc &&
        counted.emplace(record.origin, record.seq).second) {
      holds_changed(previous, record);
      received.added.push_back(record);
    }
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
