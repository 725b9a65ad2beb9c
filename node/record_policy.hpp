#pragma once
// Which records a node merges from the mesh (DESIGN §4.1, §4.2): a record
// must carry a valid signature of its origin, the origin must be in the
// roster, and it may only speak for what that node owns:
//
//   occupied, blocked, operational   the centre that owns the pool
//   rights, used, reservation        an hq node, or the centre that owns the pool
//   heartbeat                        any member
//
// A record that fails is counted and dropped; it never reaches the ledger.

#include "crdt/record.hpp"
#include "crdt/result.hpp"
#include "node/roster.hpp"

namespace placemesh {

// Ok, or bad_signature / not_owner saying who signed what.
// `signature_checked`: the signature was already found valid for exactly
// this record (node/inbound_verifier, by its record_print).
[[nodiscard]] Status admissible(const Record& record, const Roster& roster, bool signature_checked = false);

// Ok, or clock_skew: the record is stamped more than
// limits::clock_skew_max_ms ahead of `now_ms`, this node's clock. Such a
// record would win every register and look fresh for as long as its stamp
// is ahead; it is refused until the clocks agree (anti-entropy brings it
// again).
[[nodiscard]] Status timely(const Record& record, std::int64_t now_ms);

}  // namespace placemesh
