#include "crdt/ledger.hpp"

#include <algorithm>

#include "crdt/limits.hpp"

namespace placemesh {

std::size_t Delta::record_count() const {
  std::size_t count = 0;
  for (const auto& origin : origins) count += origin.records.size();
  return count;
}

Result<Applied> Ledger::apply(const Record& record) {
  if (auto status = validate(record); !status) return status.error();

  auto& seqs = by_seq_[record.origin];
  if (const auto known = seqs.find(record.seq); known != seqs.end()) {
    const Record& existing = state_.at(known->second).at(record.origin);
    if (existing == record) return Applied::duplicate;
    return make_error(Code::equivocation,
                      short_name(record.origin) + " seq " + std::to_string(record.seq) + " is already '" +
                          to_string(existing.key) + "'; refused '" + to_string(record.key) +
                          "', kept the first");
  }

  auto& slots = state_[record.key];
  const auto slot = slots.find(record.origin);
  if (slot != slots.end()) {
    PM_ASSERT(slot->second.seq != record.seq, "by_seq_ lost", record.seq);
    if (slot->second.seq > record.seq) {
      // Superseded: its effect is already here through the newer record.
      vv_.add(record.origin, record.seq);
      return Applied::stale;
    }
    seqs.erase(slot->second.seq);
    slot->second = record;
  } else {
    slots.emplace(record.origin, record);
  }
  seqs.emplace(record.seq, record.key);
  vv_.add(record.origin, record.seq);
  PM_ASSERT(vv_.contains(record.origin, record.seq));
  return Applied::added;
}

Result<Applied> Ledger::apply_local(const Record& record) {
  auto applied = apply(record);
  if (applied) vv_.raise(record.origin, record.seq);
  return applied;
}

Delta Ledger::delta_since(const Digest& peer, std::size_t max_records) const {
  PM_REQUIRE(max_records >= 1, max_records);
  static const OriginKnowledge nothing{};
  Delta delta;
  std::size_t budget = max_records;
  std::size_t superseded_budget = limits::superseded_per_delta_max;  // the rest: in the next answer
  for (const auto& [origin, seqs] : by_seq_) {
    if (delta.origins.size() == limits::delta_origins_max) {
      delta.truncated = true;  // the other origins in the next answer
      break;
    }
    const auto found = peer.find(origin);
    const OriginKnowledge& theirs = found == peer.end() ? nothing : found->second;
    const std::uint64_t mine = vv_.through(origin);
    OriginDelta part{origin, theirs.through, 0, {}, {}};
    auto it = seqs.upper_bound(theirs.through);
    std::uint64_t covered = theirs.through;  // last seq the answer speaks for
    for (; it != seqs.end(); ++it) {
      if (theirs.cloud.count(it->first) == 0) {
        if (budget == 0) break;
        part.records.push_back(state_.at(it->second).at(origin));
        --budget;
      }
      covered = it->first;
    }
    if (it == seqs.end()) {
      part.through = std::max(mine, theirs.through);
      // Seqs we know above our own through but hold no record of were
      // superseded; say so, or the asker would never learn it once their
      // origin is gone. (Only in a complete part: the records that supersede
      // them may be beyond a truncated one.)
      const auto known = vv_.origins().find(origin);
      if (known != vv_.origins().end())
        for (std::uint64_t seq : known->second.cloud)
          if (seq > theirs.through && !theirs.cloud.contains(seq) && !seqs.contains(seq) &&
              superseded_budget > 0) {
            part.superseded.push_back(seq);
            --superseded_budget;
          }
    } else {
      // Out of budget: everything up to the last record covered, as far as
      // we know it ourselves.
      delta.truncated = true;
      part.through = std::max(std::min(covered, mine), theirs.through);
    }
    if (!part.records.empty() || part.through > theirs.through || !part.superseded.empty())
      delta.origins.push_back(std::move(part));
    if (delta.truncated) break;
  }
  return delta;
}

DeltaStats Ledger::apply_delta(const Delta& delta) {
  DeltaStats stats;
  for (const auto& part : delta.origins) {
    bool complete = true;
    for (const auto& record : part.records) {
      Result<Applied> applied = record.origin == part.origin
                                    ? apply(record)
                                    : Result<Applied>(make_error(Code::invalid_record,
                                                                 "record of another origin in a delta"));
      if (!applied) {
        complete = false;
        ++stats.rejected;
        if (!stats.first_rejection) stats.first_rejection = applied.error();
        continue;
      }
      switch (applied.value()) {
        case Applied::added: ++stats.added; break;
        case Applied::stale: ++stats.stale; break;
        case Applied::duplicate: ++stats.duplicate; break;
      }
    }
    // The high-water mark holds only if we knew everything up to the base
    // the answer was computed from, and took every record in it. It is never
    // raised beyond a record we hold, so a peer cannot make us stop asking
    // for records it did not show us.
    if (!complete) continue;
    const auto held = by_seq_.find(part.origin);
    if (held == by_seq_.end() || held->second.empty()) continue;
    const std::uint64_t newest = held->second.rbegin()->first;
    // A superseded seq is below the record that replaced it, which we now
    // hold (or hold a newer one of its key): never take one above that.
    for (std::uint64_t seq : part.superseded)
      if (seq >= 1 && seq < newest) vv_.add(part.origin, seq);
    if (vv_.through(part.origin) < part.base) continue;
    vv_.raise(part.origin, std::min(part.through, newest));
  }
  return stats;
}

void Ledger::restore_knowledge(const Origin& origin, const OriginKnowledge& knowledge) {
  vv_.raise(origin, knowledge.through);
  for (std::uint64_t seq : knowledge.cloud) vv_.add(origin, seq);
}

void Ledger::merge(const Ledger& other) {
  for (const auto& [key, their_slots] : other.state_) {
    for (const auto& [origin, theirs] : their_slots) {
      auto& seqs = by_seq_[origin];
      if (const auto known = seqs.find(theirs.seq); known != seqs.end()) continue;  // same or equivocation
      auto& slots = state_[key];
      const auto slot = slots.find(origin);
      if (slot == slots.end()) {
        slots.emplace(origin, theirs);
      } else if (slot->second.seq < theirs.seq) {
        seqs.erase(slot->second.seq);
        slot->second = theirs;
      } else {
        continue;
      }
      seqs.emplace(theirs.seq, key);
    }
  }
  vv_.join(other.vv_);
}

const Record* Ledger::find(const Origin& origin, const Key& key) const {
  const auto slots = state_.find(key);
  if (slots == state_.end()) return nullptr;
  const auto slot = slots->second.find(origin);
  return slot == slots->second.end() ? nullptr : &slot->second;
}

Counter Ledger::counter_total(const Key& key) const {
  Counter total;
  const auto slots = state_.find(key);
  if (slots == state_.end()) return total;
  for (const auto& [origin, record] : slots->second) {
    const auto& counter = std::get<Counter>(record.value);
    total.p += counter.p;
    total.n += counter.n;
  }
  return total;
}

std::optional<std::int64_t> Ledger::register_value(const Key& key) const {
  const auto slots = state_.find(key);
  if (slots == state_.end() || slots->second.empty()) return std::nullopt;
  const Record* winner = nullptr;
  for (const auto& [origin, record] : slots->second)
    if (winner == nullptr || std::tie(record.hlc, record.origin) > std::tie(winner->hlc, winner->origin))
      winner = &record;
  return std::get<Register>(winner->value).value;
}

std::optional<Reservation> Ledger::reservation(const Key& key) const {
  const auto slots = state_.find(key);
  if (slots == state_.end() || slots->second.empty()) return std::nullopt;
  const Reservation* joined = nullptr;
  for (const auto& [origin, record] : slots->second) {
    const auto& view = std::get<Reservation>(record.value);
    joined = joined == nullptr ? &view : &join(*joined, view);
  }
  return *joined;
}

void Ledger::for_each_in(Field field, std::string_view pool,
                         const std::function<void(const Record&)>& visit) const {
  for (auto it = state_.lower_bound(Key{field, std::string(pool), {}});
       it != state_.end() && it->first.field == field && it->first.pool == pool; ++it)
    for (const auto& [origin, record] : it->second) visit(record);
}

void Ledger::for_each_record(const std::function<void(const Record&)>& visit) const {
  for (const auto& [key, slots] : state_)
    for (const auto& [origin, record] : slots) visit(record);
}

std::size_t Ledger::record_count() const {
  std::size_t count = 0;
  for (const auto& [origin, seqs] : by_seq_) count += seqs.size();
  return count;
}

std::size_t Ledger::record_count(const Origin& origin) const {
  const auto found = by_seq_.find(origin);
  return found == by_seq_.end() ? 0 : found->second.size();
}

void Ledger::check_invariants() const {
  std::size_t indexed = 0;
  for (const auto& [origin, seqs] : by_seq_) {
    for (const auto& [seq, key] : seqs) {
      const Record* record = find(origin, key);
      PM_ASSERT(record != nullptr && record->seq == seq, short_name(origin), seq, to_string(key));
      ++indexed;
    }
    const std::uint64_t through = vv_.through(origin);
    PM_ASSERT(through == 0 || (!seqs.empty() && seqs.rbegin()->first >= through), short_name(origin),
              through);
  }
  std::size_t stored = 0;
  for (const auto& [key, slots] : state_) {
    for (const auto& [origin, record] : slots) {
      PM_ASSERT(record.key == key && record.origin == origin, to_string(key));
      PM_ASSERT(vv_.contains(origin, record.seq), short_name(origin), record.seq);
      ++stored;
    }
  }
  PM_ASSERT(indexed == stored, indexed, stored);
  for (const auto& [origin, knowledge] : vv_.origins()) {
    const auto held = by_seq_.find(origin);
    PM_ASSERT(knowledge.through == 0 || (held != by_seq_.end() && !held->second.empty()),
              short_name(origin), knowledge.through);
  }
}

}  // namespace placemesh
