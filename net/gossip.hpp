#pragma once
// The gossip protocol (DESIGN §4.3) as a state machine: no sockets, no
// timers, no threads. What it needs from the world comes in through four
// seams, so the same code runs in placemeshd and in the deterministic
// simulator (tests/sim, tools/placemesh-sim), both through node/node_core:
//   - GossipHost: the replica (digest, deltas, merging received records);
//   - GossipTransport: send a message to a linked peer, close a link, dial
//     (node/mesh over Asio links; the simulator's network);
//   - GossipEvents: what it tells its owner (refusals, offered rosters,
//     links lost);
//   - a clock (milliseconds; placemeshd gives it a steady clock, so its times
//     are for differences only) and an RNG seed (redial jitter).
// The owner feeds it events (link up or down, a message, a committed local
// record) and calls tick() no later than next_wakeup_ms().
//
// What it does:
//   - eager push: every durable local record goes at once to every linked peer;
//   - relay: records new here go to every linked peer but the sender;
//   - anti-entropy: every sync interval a digest to each peer, and when a
//     link comes up a digest to that peer unless another peer is already
//     answering one (a node back from a long absence catches up from one peer,
//     not from all of them at once, each sending the same records); a digest
//     is answered with what the peer lacks, bounded per frame; a truncated
//     answer that brought something is followed at once by a new digest (a
//     refused answer is not asked for again until the next interval);
//   - rosters: each side of a new link says which roster version it runs,
//     and says it again every `roster_announce_ms`; the side with the newer
//     one sends it (so an offer lost on a full queue is repeated);
//   - a delta is taken only as the answer to a digest this node sent on that
//     link (one per digest); any other is refused as unasked_delta, so a
//     member cannot push knowledge it was not asked for;
//   - a member that sends what no honest node sends (bad signatures,
//     messages that do not decode, unasked deltas, rosters that do not
//     verify: `strikes_max` within `strike_window_ms`) loses its link and is
//     not linked with again for `misbehaving_backoff_ms`, counted as
//     misbehaving_peer and logged once with the reason;
//   - a link that received nothing for `silence_max_ms` is closed (a
//     half-open connection after a partition) and redialled; what counts is
//     when bytes arrived (heard()), not when they were taken;
//   - a node that was itself stalled longer than that (SIGSTOP, a blocked
//     io thread: tick() came that late) closes every link at once and
//     redials the peers it dials at the shortest backoff: its peers have
//     closed them already, and what its sockets still deliver is old, so it
//     would otherwise look like fresh contact;
//   - one link per pair: the node whose key sorts first dials, with capped
//     exponential backoff and ±25 % jitter, reset by the first message;
//   - per peer: records and messages each way, lag per origin (seqs and how
//     long it has been behind, from its last digest), full resyncs (answers
//     to a peer that knew nothing of an origin we hold).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/ledger.hpp"
#include "crdt/limits.hpp"
#include "crdt/result.hpp"
#include "net/link_codec.hpp"

namespace placemesh {

// What merging records from a peer did.
struct Received {
  std::vector<Record> added;  // new here: relay them
  std::vector<Error> refused;
};

class GossipHost {
 public:
  virtual ~GossipHost() = default;
  [[nodiscard]] virtual const Digest& digest() const = 0;
  // What a peer with this digest lacks, bounded per frame.
  [[nodiscard]] virtual Delta delta_for(const Digest& peer) const = 0;
  [[nodiscard]] virtual Received receive_records(const std::vector<Record>& records) = 0;
  [[nodiscard]] virtual Received receive_delta(const Delta& delta) = 0;
  [[nodiscard]] virtual std::uint64_t roster_version() const = 0;
  [[nodiscard]] virtual const std::string& roster_text() const = 0;
};

class GossipTransport {
 public:
  virtual ~GossipTransport() = default;
  // Queues one encoded LinkMessage on the link to `peer`; false if it was
  // not queued (no link, or its send queue is full).
  virtual bool send(const PublicKey& peer, const Bytes& bytes) = 0;
  // Closes the link to `peer`; link_down() follows.
  virtual void close(const PublicKey& peer, const std::string& why) = 0;
  // Starts a connection to `peer`; link_up() or dial_failed() follows.
  virtual void dial(const PublicKey& peer) = 0;
};

// What the gossip tells its owner (node/node_core), on the caller's thread,
// from within the gossip's own calls.
class GossipEvents {
 public:
  virtual ~GossipEvents() = default;
  // A peer sent something refused (a message that does not decode, a record
  // that fails the policy): reason (code name or "garbled_message").
  virtual void refused(const PublicKey& peer, const std::string& reason) = 0;
  // A peer offered a signed roster (the owner verifies and installs it).
  virtual void roster_offered(const PublicKey& peer, const std::string& text) = 0;
  // A link that was up went down or was closed as silent (for the log).
  virtual void link_lost(const PublicKey& peer, const std::string& why) = 0;
};

struct GossipSettings {
  PublicKey self;
  std::int64_t sync_interval_ms = limits::sync_interval_ms;
  std::int64_t silence_max_ms = limits::silence_max_ms;
  std::int64_t roster_announce_ms = limits::roster_announce_interval_ms;
  std::int64_t redial_min_ms = limits::redial_min_ms;
  std::int64_t redial_max_ms = limits::redial_max_ms;
  std::size_t strikes_max = limits::peer_strikes_max;
  std::int64_t strike_window_ms = limits::peer_strike_window_ms;
  std::int64_t misbehaving_backoff_ms = limits::misbehaving_backoff_ms;
};

struct OriginLag {
  std::uint64_t seqs = 0;  // how many seqs we know (through and cloud) that the peer does not
  std::int64_t ms = 0;     // how old its knowledge is: since its last digest that was level with ours
};

struct GossipPeer {
  PublicKey key;
  enum class State : std::uint8_t { down, waiting, connecting, up } state = State::down;
  std::optional<std::int64_t> up_since_ms, last_contact_ms, next_dial_ms;
  std::uint64_t messages_sent = 0, messages_received = 0, messages_dropped = 0;
  std::uint64_t records_sent = 0, records_received = 0, records_added = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t full_resyncs = 0;
  std::uint64_t refused = 0;  // records and messages from this peer that were refused
  std::uint64_t unasked_deltas = 0;  // deltas it sent that answered no digest of ours (refused)
  std::uint64_t backoffs = 0;  // times its link was closed for misbehaving
  std::optional<std::int64_t> backed_off_until_ms;  // no link with it before then
  std::uint64_t links = 0;  // how many times a link came up
  std::int64_t redial_delay_ms = 0;  // the next backoff before jitter
};
[[nodiscard]] std::string_view state_name(GossipPeer::State state);

class Gossip {
 public:
  using Clock = std::function<std::int64_t()>;

  Gossip(GossipSettings settings, GossipHost& host, GossipTransport& transport, GossipEvents& events, Clock clock,
         std::uint64_t rng_seed);
  Gossip(const Gossip&) = delete;
  Gossip& operator=(const Gossip&) = delete;

  // The other members (from the roster). Links to nodes no longer listed are
  // closed; new ones this node dials are dialled at once.
  void set_peers(const std::vector<PublicKey>& members);
  void link_up(const PublicKey& peer);
  void link_down(const PublicKey& peer, const std::string& why);
  void dial_failed(const PublicKey& peer);
  void message(const PublicKey& peer, std::span<const std::uint8_t> bytes);
  // Bytes from `peer` arrived that reach message() only later (they wait
  // while their signatures are checked off the io thread): the link is not
  // silent, however long they wait.
  void heard(const PublicKey& peer);
  // This node's own records, once durable.
  void committed(const std::vector<Record>& records);
  // `peer` sent something no honest member sends that the gossip cannot
  // see for itself (a roster that does not verify): one strike.
  void misbehaved(const PublicKey& peer, std::string_view reason);
  // A newly installed roster: offered to every linked peer.
  void roster_changed();
  // Digests, silent links and redials that are due.
  void tick();
  // When tick() must run next (never later than one sync interval away).
  [[nodiscard]] std::int64_t next_wakeup_ms() const;

  [[nodiscard]] bool dials(const PublicKey& peer) const { return settings_.self < peer; }
  [[nodiscard]] const GossipPeer* peer(const PublicKey& key) const;
  // Per origin where `peer` is behind this node (as of its last digest).
  [[nodiscard]] std::map<Origin, OriginLag> lag(const PublicKey& peer) const;
  // What this node left out of the digests it sent, to keep within the
  // limits its peers hold them to (origins and cloud seqs, each time).
  struct LeftOut {
    std::uint64_t origins = 0, cloud_seqs = 0;
  };
  [[nodiscard]] const LeftOut& left_out() const { return left_out_; }

 private:
  struct Peer : GossipPeer {
    Digest last_digest;  // what the peer last said it knows
    std::map<Origin, std::int64_t> level_ms;  // per origin: its last digest level with ours (or the first)
    std::uint64_t unanswered = 0;  // digests sent on this link that no delta has answered yet
    std::deque<std::int64_t> strikes;  // when it misbehaved, within the window
  };
  // False if it was not queued (no link, or a full send queue).
  bool send(Peer& peer, const Bytes& bytes, std::size_t records = 0);
  void send_digest(Peer& peer);
  // This node's digest within digest_origins_max and digest_cloud_seqs_max.
  [[nodiscard]] Digest sendable_digest();
  void push(const std::vector<Record>& records, const PublicKey* except);
  void schedule_redial(Peer& peer);
  // One strike; at strikes_max within the window the link is closed and the
  // peer backed off (true then).
  bool strike(Peer& peer, std::string_view reason);
  [[nodiscard]] bool backed_off(const Peer& peer) const;
  void note_digest(Peer& peer, const Digest& digest);
  // Counts what a peer sent and what of it was new or refused; relays the new.
  void merged(Peer& peer, std::size_t records, const Received& received);

  GossipSettings settings_;
  // The peer answering our catch-up digest, and since when.
  std::optional<PublicKey> catching_up_from_;
  std::int64_t catching_up_since_ms_ = 0;
  GossipHost& host_;
  GossipTransport& transport_;
  GossipEvents& events_;
  Clock clock_;
  std::mt19937_64 rng_;
  std::map<PublicKey, Peer> peers_;
  std::int64_t next_sync_ms_ = 0;
  std::int64_t next_announce_ms_ = 0;
  std::optional<std::int64_t> last_tick_ms_;
  LeftOut left_out_;
};

}  // namespace placemesh
