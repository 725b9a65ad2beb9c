#include "node/record_policy.hpp"

#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "net/record_signing.hpp"

namespace placemesh {

Status admissible(const Record& record, const Roster& roster, bool signature_checked) {
  const RosterNode* signer = roster.owner_of(record.origin.key);  // a retired key's records too
  if (signer == nullptr)
    return make_error(Code::not_owner, "origin " + short_name(record.origin) + " is not in roster version " +
                                           std::to_string(roster.version));
  if (!signature_checked && !record_signature_valid(record))
    return make_error(Code::bad_signature, "record " + to_string(record.key) + " seq " + std::to_string(record.seq) +
                                               " claims to come from " + signer->name);
  if (record.key.field == Field::heartbeat) return Ok{};
  const auto pool = roster.find_pool(record.key.pool);
  if (!pool)
    return make_error(Code::not_owner, signer->name + " wrote " + to_string(record.key) + ", a pool not in roster "
                                                                                          "version " +
                                           std::to_string(roster.version));
  const bool owner = pool->first == signer;
  switch (record.key.field) {
    case Field::occupied:
    case Field::blocked:
    case Field::operational:
      if (owner) return Ok{};
      break;
    case Field::rights:
    case Field::used:
    case Field::reservation:
      if (owner || signer->role == NodeRole::hq) return Ok{};
      break;
    case Field::heartbeat:
      return Ok{};
  }
  return make_error(Code::not_owner, signer->name + " may not write " + to_string(record.key) + " (" +
                                         record.key.pool + " belongs to " + pool->first->name + ")");
}

Status timely(const Record& record, std::int64_t now_ms) {
  const std::int64_t ahead = record.hlc.wall_ms - now_ms;
  if (ahead <= limits::clock_skew_max_ms) return Ok{};
  return make_error(Code::clock_skew, "record " + to_string(record.key) + " seq " + std::to_string(record.seq) +
                                          " of " + short_name(record.origin) + " is stamped " +
                                          std::to_string(ahead / 1000) + " s ahead of this node's clock; the " +
                                          "limit is " + std::to_string(limits::clock_skew_max_ms / 1000) +
                                          " s: check both nodes' NTP");
}

}  // namespace placemesh
