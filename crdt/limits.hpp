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
// One encoded, signed record. Real ones are under 400 bytes (a 64-byte pool
// id, a 96-byte key argument, the 64-byte signature and 40-byte origin).
inline constexpr std::size_t record_bytes_max = 896;
// Superseded seqs named in one anti-entropy answer (8 bytes each); the rest
// follow in the next answer.
inline constexpr std::size_t superseded_per_delta_max = 4'096;
// Origins in one digest, and cloud seqs (all origins together) in one
// digest: a longer one is refused as malformed. A sender leaves out what is
// over (gossip counts it): it then claims less than it knows, and is sent
// some records again, which is harmless.
inline constexpr std::size_t digest_origins_max = 1'024;
inline constexpr std::size_t digest_cloud_seqs_max = 16'384;
// Origin parts in one anti-entropy answer (a part may carry no record, only
// knowledge); the rest follow in the next answer. A longer one is refused.
inline constexpr std::size_t delta_origins_max = 512;
// What Cap'n Proto adds around the records of a delta: the message and
// list headers and one OriginDelta with its origin per origin part (about
// 100 bytes each), for up to about 600 origins.
inline constexpr std::size_t delta_overhead_bytes = 64 << 10;
// A signed roster travels in one link message, with this much room for the
// message around its text.
inline constexpr std::size_t roster_message_overhead_bytes = 4 << 10;

// --- links (net/link, net/gossip, node/mesh) --------------------------------
// Messages from a peer of at least this size have their records'
// signatures checked off the io thread (node/inbound_verifier): about ten
// records or more. Smaller ones are checked at once.
inline constexpr std::size_t inbound_check_bytes_min = 4 << 10;
// What one link may have taken at once (checked on the io thread) in one
// second: an honest peer's digests and pushes are a few KB a second; past
// it its messages, small ones too, go to the verifier thread (a member
// gone bad sending frames just under inbound_check_bytes_min).
inline constexpr std::size_t inbound_at_once_bytes_per_s = 64 << 10;
// Bytes of one link's messages waiting for that check; past it the link is
// not read from until half of it is taken, and TCP slows the peer.
inline constexpr std::size_t inbound_queue_bytes_max = 8 << 20;
// Bytes queued to one peer before the link is closed as too slow.
inline constexpr std::size_t link_send_queue_bytes_max = 8 << 20;
inline constexpr std::size_t link_read_chunk_bytes = 64 << 10;
// A link that received nothing for this long is closed (a half-open TCP
// connection); peers send a digest every sync interval.
inline constexpr std::int64_t silence_max_ms = 5 * sync_interval_ms;
// Each node tells every linked peer its roster version this often (and when
// a link comes up); a peer that runs an older one is sent the roster. A
// roster offer dropped on a full send queue is so repeated, not lost.
inline constexpr std::int64_t roster_announce_interval_ms = 30 * sync_interval_ms;
// Redial backoff: from min, doubling with jitter, capped at max.
inline constexpr std::int64_t redial_min_ms = 100;
inline constexpr std::int64_t redial_max_ms = 30'000;
// A member that sends what no honest node sends (records with bad
// signatures, messages that do not decode, deltas it was not asked for,
// rosters that do not verify) this many times within the window loses its
// link and is not linked with again until the backoff ends (net/gossip).
// Refusals an honest relay can cause (clock_skew, quota_exceeded, records of
// a member our roster does not list yet) never count.
inline constexpr std::size_t peer_strikes_max = 32;
inline constexpr std::int64_t peer_strike_window_ms = 60'000;
inline constexpr std::int64_t misbehaving_backoff_ms = 5 * 60'000;
// Handshakes in progress at once, and from one host.
inline constexpr std::size_t handshakes_max = 64;
inline constexpr std::size_t handshakes_per_host_max = 8;
// Handshakes started per second from one host and from one /24 (IPv4) or
// /64 (IPv6), as token buckets holding a burst: a handshake costs the
// responder a key exchange and a signature before it knows the caller
// (node/handshake_gate). Honest peers dial a few times a minute at most.
// Past them a connection is closed at accept (handshake_rate). The bucket
// tables hold at most handshake_buckets_max sources each.
inline constexpr double handshake_rate_per_host_per_s = 10;
inline constexpr double handshake_burst_per_host = 20;
inline constexpr double handshake_rate_per_prefix_per_s = 40;
inline constexpr double handshake_burst_per_prefix = 80;
inline constexpr std::size_t handshake_buckets_max = 4'096;
// And from every host that is not a member's, together: this bounds what
// unauthenticated callers can make the io thread spend on key exchanges
// (about 100 µs each: 200/s is 2 % of a core) however many addresses they
// have. Members dialling from their roster address are not counted; the
// burst lets every node of the largest roster dial at once from elsewhere.
inline constexpr double handshake_rate_total_per_s = 200;
inline constexpr double handshake_burst_total = 400;
// A refused peer is logged at most once per this interval.
inline constexpr std::int64_t rejection_log_interval_ms = 60'000;

// --- roster and config files (node/roster, node/config) ---------------------
inline constexpr std::size_t roster_nodes_max = 128;  // also the most peers a node has
// How far past the installed version an offered roster (gossip, the API)
// may go. A stolen admin key could otherwise sign version 2^64-1, after
// which no roster could ever be newer: the network would be frozen on the
// thief's roster. With the cap, reaching the top takes 10^16 installs.
// A roster file given at start is the operator's own and may jump further.
inline constexpr std::uint64_t roster_version_jump_max = 1'000;
inline constexpr std::size_t node_name_bytes_max = 16;
inline constexpr std::size_t roster_bytes_max = frame_bytes_max - roster_message_overhead_bytes;
inline constexpr std::size_t config_bytes_max = 64 << 10;
inline constexpr std::size_t tokens_file_bytes_max = 1 << 20;
// [store] map_size_mb: the LMDB map, in MiB (1 MiB to 1 TiB).
inline constexpr std::int64_t store_map_mb_max = 1 << 20;

// --- node -------------------------------------------------------------------
inline constexpr std::size_t op_id_bytes_max = 64;
// Op ids are kept with their receipts (DESIGN §3.5) for 7 days and at most
// this many (about 0.5 KiB each): the writer prunes the oldest in each
// commit, a few at a time. A retry of an op_id pruned since is applied as
// a new operation (docs/api.md).
inline constexpr std::int64_t op_id_retention_ms = 7LL * 24 * 3'600'000;
inline constexpr std::size_t op_ids_kept_max = 100'000;
inline constexpr std::size_t op_ids_pruned_per_commit_max = 64;
// Refused operations are counted; only this many per token and minute are
// written one by one to the audit log, the rest as one line of how many.
inline constexpr std::size_t audit_refusals_per_minute = 10;
// Batches waiting for the store's writer thread; more are refused (retryable).
inline constexpr std::size_t store_queue_max = 10'000;
// A store that filled (store_full) writes again once a write of this size
// fits in its map and on its disk; the replica tries every heartbeat.
inline constexpr std::size_t store_probe_bytes = 64 << 10;
// Room in the map kept for this node's own operations: when less is left,
// records from peers are refused (counted, peers resend them later), so a
// centre still records its admissions while a flood from a member is
// turned away. A tenth of the map, at least 64 KiB.
inline constexpr std::size_t store_local_margin_divisor = 10;
inline constexpr std::size_t store_local_margin_min_bytes = 64 << 10;
// What one record from a peer is taken to need in the map until its batch
// is committed and the room asked again: a record of the largest size with
// its seq index entry (most need a third of it). Peers' batches queue for
// the writer thread, so the room they will take is counted when they are
// taken, not after: a burst of large messages cannot run past the margin.
inline constexpr std::size_t store_record_bytes_estimate = 1'024;
// After a commit the writer thread polls its queue this long before it
// sleeps: waking a sleeping thread costs tens of microseconds on a VM, a
// tenth of a commit (BENCHMARKS.md).
inline constexpr std::int64_t store_writer_spin_us = 200;

// --- HTTP API (node/api) ------------------------------------------------------
inline constexpr std::size_t api_connections_max = 1'024;
// Of them, from one source address: more are closed at accept.
inline constexpr std::size_t api_connections_per_source_max = 128;
// Live-update streams (GET /v1/events) open at once; each is a connection.
inline constexpr std::size_t event_streams_max = 512;
inline constexpr std::size_t event_streams_per_source_max = 64;
// Changes (POST /v1/...) per token and minute, [api] operations_per_minute:
// a token bucket that holds one minute's worth; past it, 429 with
// Retry-After. Enough for a centre's desk and a case system's catch-up
// after an outage; a token in a loop is slowed before it can fill the store.
inline constexpr std::int64_t api_operations_per_minute_default = 120;
inline constexpr std::int64_t api_operations_per_minute_max = 1'000'000;
// A comment line on every event stream this often keeps proxies from closing it.
inline constexpr std::int64_t event_keepalive_ms = 15'000;
// A request must arrive, and a response be written, within these.
inline constexpr std::int64_t api_read_timeout_ms = 15'000;
inline constexpr std::int64_t api_write_timeout_ms = 15'000;
// An operation waiting for the store longer than this is abandoned by the server.
inline constexpr std::int64_t api_handle_timeout_ms = 60'000;
// Request bodies: [api] body_bytes_max, its default and its range. Bodies
// over it get 413; RESTinio drops a connection whose body passes this many
// times it (64 KiB by default), for every request: no answer possible.
// POST /v1/roster takes rosters up to that hard limit (a larger roster is
// installed with roster_file on one node, node/ROSTER.md).
inline constexpr std::size_t api_body_bytes_default = 16 << 10;
inline constexpr std::size_t api_body_bytes_min = 256;
inline constexpr std::size_t api_body_bytes_max = 1 << 20;
inline constexpr std::size_t api_hard_body_factor = 4;
// The free-text reason of a release (kept in the local audit log only).
inline constexpr std::size_t release_reason_bytes_max = 200;

// --- a member gone bad (issue 15): what one node key may make others hold --
// Epochs (DESIGN §3.1) of one node key that a node takes records of. Each
// lost disk is a new epoch; records of one more are refused (quota_exceeded,
// counted per peer): a key that lost its disk this often is given a new key
// in the roster by the admin (docs/deploy.md). Without this, one stolen key
// could mint epochs until every digest in the mesh outgrew its limit.
inline constexpr std::size_t epochs_per_key_max = 8;
// Seqs of one origin held above its `through` (its cloud: records that came
// out of order). A pushed record that would grow a full cloud is dropped and
// counted; anti-entropy brings it again in seq order, which closes the gap.
inline constexpr std::size_t cloud_seqs_per_origin_max = 1'024;

// Keys (so records: a node holds one per key, its latest) of one node key,
// all its epochs together. An honest centre writes about ten per pool and
// one per reservation it makes; a record of a key over the quota is refused
// (quota_exceeded, counted per node). With record_bytes_max this bounds the
// bytes one key can make every node hold (key_bytes_max below).
inline constexpr std::size_t keys_per_key_max = 65'536;
inline constexpr std::size_t key_bytes_max = 64 << 20;
// Reservations of one node key in one pool that are held and not expired
// (by this node's clock): more than any pool in Belgium has places. One
// more is refused like a key over the quota.
inline constexpr std::size_t open_holds_per_pool_max = 512;
// HLC logical counter width (see crdt/hlc.hpp).
inline constexpr std::uint32_t hlc_logical_max = 0xFFFF;

static_assert(operation_count_max > 0 && operation_count_max <= pool_places_max);
static_assert(static_cast<std::uint64_t>(pool_places_max) < cumulative_total_max);
static_assert(heartbeat_interval_ms >= sync_interval_ms);
static_assert(reservation_hold_default_ms <= reservation_hold_max_ms);
static_assert(handshake_timeout_ms > sync_interval_ms);
static_assert(reservation_reference_bytes_max <= key_arg_bytes_max);
// A delta of the most records, each of the largest size (with its list
// pointer), naming the most superseded seqs, fits one frame.
static_assert(records_per_frame_max * (record_bytes_max + 8) + superseded_per_delta_max * 8 + delta_overhead_bytes <=
              frame_bytes_max);
// The largest roster accepted from a file or the API can be gossiped.
static_assert(roster_bytes_max + roster_message_overhead_bytes <= frame_bytes_max);
// Every epoch a node takes of every member of the largest roster fits one
// digest, so honest nodes never leave an origin out of theirs.
static_assert(roster_nodes_max * epochs_per_key_max <= digest_origins_max);
// A digest of the most origins and the most cloud seqs fits half a frame:
// each origin's entry is at most 96 bytes (list element, origin struct and
// 32-byte key, cloud pointer), each cloud seq 8.
static_assert(digest_origins_max * 96 + digest_cloud_seqs_max * 8 <= frame_bytes_max / 2);
// What one node key can make a node hold: its keys, each of the largest size.
static_assert(keys_per_key_max * record_bytes_max <= key_bytes_max);
static_assert(record_bytes_max < store_record_bytes_estimate);
// Every pool of a centre can have its fields and its open holds.
static_assert(pools_per_centre_max * (open_holds_per_pool_max + 16) <= keys_per_key_max);
// One origin's full cloud fits a digest.
static_assert(cloud_seqs_per_origin_max <= digest_cloud_seqs_max);
// The origin parts of one answer fit its overhead (about 100 bytes each).
static_assert(delta_origins_max * 100 <= delta_overhead_bytes);
// A link is declared silent only after several digests were due.
static_assert(silence_max_ms >= 3 * sync_interval_ms);
static_assert(roster_announce_interval_ms >= sync_interval_ms);
static_assert(redial_min_ms < redial_max_ms && redial_max_ms >= handshake_timeout_ms);
// A peer backed off for misbehaving stays off longer than any redial.
static_assert(misbehaving_backoff_ms > redial_max_ms && peer_strike_window_ms > silence_max_ms);
static_assert(handshakes_per_host_max <= handshakes_max);
static_assert(handshake_burst_total >= 2 * roster_nodes_max);
// The send queue holds at least a few maximal frames.
static_assert(link_send_queue_bytes_max >= 4 * frame_bytes_max);
static_assert(api_connections_per_source_max < api_connections_max && event_streams_per_source_max < event_streams_max);
static_assert(op_ids_pruned_per_commit_max > 1);  // prunes faster than one new op_id per commit
static_assert(api_body_bytes_min <= api_body_bytes_default && api_body_bytes_default <= api_body_bytes_max);
static_assert(release_reason_bytes_max < api_body_bytes_min);
static_assert(api_handle_timeout_ms > api_read_timeout_ms);

}  // namespace placemesh::limits
