#pragma once
// The local operations of DESIGN §1 and §3.4, turned into records.
//
// Each function checks the operation against the ledger as this node sees it
// and returns the records that express it (usually one), or the reason it is
// refused. It changes nothing: the caller applies each returned record in
// order with Ledger::apply_local() and makes it durable before answering.
// Ownership (only a centre's node writes its occupied counts) is checked by
// the node against the roster, not here.

#include <cstdint>
#include <string_view>
#include <vector>

#include "crdt/ledger.hpp"
#include "crdt/writer.hpp"

namespace placemesh {

using Records = std::vector<Record>;

// count must be in 1..limits::operation_count_max.
[[nodiscard]] Status check_count(std::int64_t count);

// Admissions are always recorded, even past capacity: the person is there.
[[nodiscard]] Result<Records> admit(Writer& writer, const Ledger& ledger, std::string_view pool,
                                    std::int64_t count, std::int64_t now_ms);
// Refused (nothing_to_remove) when fewer places are occupied than released.
[[nodiscard]] Result<Records> release(Writer& writer, const Ledger& ledger, std::string_view pool,
                                      std::int64_t count, std::int64_t now_ms);
[[nodiscard]] Result<Records> block(Writer& writer, const Ledger& ledger, std::string_view pool,
                                    std::string_view reason, std::int64_t count, std::int64_t now_ms);
[[nodiscard]] Result<Records> unblock(Writer& writer, const Ledger& ledger, std::string_view pool,
                                      std::string_view reason, std::int64_t count, std::int64_t now_ms);
// value in 0..limits::pool_places_max.
[[nodiscard]] Result<Records> set_operational(Writer& writer, const Ledger& ledger, std::string_view pool,
                                              std::int64_t value, std::int64_t now_ms);

// --- reservation rights (bounded counter) ------------------------------------
[[nodiscard]] Result<Records> create_rights(Writer& writer, const Ledger& ledger, std::string_view pool,
                                            std::int64_t count, std::int64_t now_ms);
[[nodiscard]] Result<Records> transfer_rights(Writer& writer, const Ledger& ledger, std::string_view pool,
                                              const Origin& to, std::int64_t count, std::int64_t now_ms);

// --- reservations -----------------------------------------------------------
// Spends `count` of this node's rights. Refused with no_rights_here when no
// rights exist anywhere, rights_held_elsewhere (naming the holder) otherwise.
[[nodiscard]] Result<Records> reserve(Writer& writer, const Ledger& ledger, std::string_view pool,
                                      std::string_view id, std::int64_t count, std::int64_t expires_at_ms,
                                      std::string_view reference, std::int64_t now_ms);
// Ends a held reservation. The node that holds it gets its rights back; a
// cancel by another node closes it, and its holder's rights stay spent until
// the holder sees the cancel (conservative: never promise a place twice).
[[nodiscard]] Result<Records> cancel(Writer& writer, const Ledger& ledger, std::string_view pool,
                                     std::string_view id, std::int64_t now_ms);
[[nodiscard]] Result<Records> expire(Writer& writer, const Ledger& ledger, std::string_view pool,
                                     std::string_view id, std::int64_t now_ms);
// The person arrived: the reservation is confirmed and the place occupied.
[[nodiscard]] Result<Records> confirm(Writer& writer, const Ledger& ledger, std::string_view pool,
                                      std::string_view id, std::int64_t now_ms);

[[nodiscard]] Record heartbeat(Writer& writer, std::int64_t now_ms);

}  // namespace placemesh
