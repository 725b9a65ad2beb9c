#pragma once
// Every limit of placemesh, named once, units last (DESIGN §6, STYLE 9).
//
// This header is standard-library only so every layer (crdt ← net ← node ←
// tools) can include it. Relations between limits are checked below with
// static_assert, so changing one number cannot silently break another.

#include <cstddef>
#include <cstdint>

namespace placemesh::limits {

// --- counts carried by one operation and by one pool -----------------------
// One admission/release/block request moves at most this many places.
inline constexpr std::int64_t operation_count_max = 10'000;
// Capacity figures (design, operational) of one pool.
inline constexpr std::int64_t pool_places_max = 100'000;
// Cumulative per-origin totals (p and n of a counter slot). 2^53 keeps every
// total exactly representable in JSON numbers read by browsers.
inline constexpr std::uint64_t cumulative_total_max = (std::uint64_t{1} << 53) - 1;

// --- identifiers ------------------------------------------------------------
inline constexpr std::size_t pool_id_bytes_max = 64;        // "CENTRE/unit"
inline constexpr std::size_t key_arg_bytes_max = 96;        // reason, reservation id, origin hex
inline constexpr std::size_t reservation_reference_bytes_max = 64;  // DESIGN §1
inline constexpr std::size_t pools_per_centre_max = 64;
inline constexpr std::size_t peers_max = 1'024;

// --- time -------------------------------------------------------------------
// A remote HLC further ahead of our physical clock than this is refused.
inline constexpr std::int64_t clock_skew_max_ms = 5 * 60 * 1000;
inline constexpr std::int64_t handshake_timeout_ms = 5'000;
inline constexpr std::int64_t sync_interval_ms = 1'000;
inline constexpr std::int64_t heartbeat_interval_ms = 5'000;
inline constexpr std::int64_t reservation_hold_default_ms = 4 * 60 * 60 * 1000;
inline constexpr std::int64_t reservation_hold_max_ms = 7 * 24 * 60 * 60 * 1000;

// --- wire -------------------------------------------------------------------
inline constexpr std::size_t frame_bytes_max = 1 << 20;     // 1 MiB, DESIGN §4.2
inline constexpr std::size_t records_per_frame_max = 1'024;
inline constexpr std::size_t record_bytes_max = 1'024;      // one encoded, signed record
// Superseded seqs named in one anti-entropy answer (8 bytes each); the rest
// follow in the next answer.
inline constexpr std::size_t superseded_per_delta_max = 4'096;

// --- node -------------------------------------------------------------------
inline constexpr std::size_t op_id_bytes_max = 64;
inline constexpr std::size_t op_id_retention_max = 1'000'000;
// Batches waiting for the store's writer thread; more are refused (retryable).
inline constexpr std::size_t store_queue_max = 10'000;
// After a commit the writer thread polls its queue this long before it
// sleeps: waking a sleeping thread costs tens of microseconds on a VM, a
// tenth of a commit (BENCHMARKS.md).
inline constexpr std::int64_t store_writer_spin_us = 200;

// HLC logical counter width (see crdt/hlc.hpp).
inline constexpr std::uint32_t hlc_logical_max = 0xFFFF;

static_assert(operation_count_max > 0 && operation_count_max <= pool_places_max);
static_assert(static_cast<std::uint64_t>(pool_places_max) < cumulative_total_max);
static_assert(heartbeat_interval_ms >= sync_interval_ms);
static_assert(reservation_hold_default_ms <= reservation_hold_max_ms);
static_assert(handshake_timeout_ms > sync_interval_ms);
// A full frame of maximal records must fit into one frame.
static_assert(records_per_frame_max * record_bytes_max <= frame_bytes_max);
static_assert(reservation_reference_bytes_max <= key_arg_bytes_max);

}  // namespace placemesh::limits
