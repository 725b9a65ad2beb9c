#include "net/gossip.hpp"

#include <algorithm>

namespace placemesh {

std::string_view state_name(GossipPeer::State state) {
  switch (state) {
    case GossipPeer::State::down: return "down";
    case GossipPeer::State::waiting: return "waiting";
    case GossipPeer::State::connecting: return "connecting";
    case GossipPeer::State::up: return "up";
  }
  return "down";
}

Gossip::Gossip(GossipSettings settings, GossipHost& host, GossipTransport& transport, GossipEvents& events,
               Clock clock, std::uint64_t rng_seed)
    : settings_(settings),
      host_(host),
      transport_(transport),
      events_(events),
      clock_(std::move(clock)),
      rng_(rng_seed) {
  next_sync_ms_ = clock_() + settings_.sync_interval_ms;
  next_announce_ms_ = clock_() + settings_.roster_announce_ms;
}

const GossipPeer* Gossip::peer(const PublicKey& key) const {
  auto found = peers_.find(key);
  return found == peers_.end() ? nullptr : &found->second;
}

void Gossip::set_peers(const std::vector<PublicKey>& members) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (std::find(members.begin(), members.end(), it->first) != members.end()) {
      ++it;
      continue;
    }
    const PublicKey key = it->first;
    const bool linked = it->second.state == GossipPeer::State::up || it->second.state == GossipPeer::State::connecting;
    if (catching_up_from_ == key) catching_up_from_.reset();
    it = peers_.erase(it);
    if (linked) transport_.close(key, "removed from the roster");
  }
  for (const auto& key : members) {
    if (key == settings_.self || peers_.contains(key)) continue;
    Peer& peer = peers_[key];
    peer.key = key;
    peer.redial_delay_ms = settings_.redial_min_ms;
    if (dials(key)) {
      peer.state = GossipPeer::State::connecting;
      transport_.dial(key);
    }
  }
}

bool Gossip::send(Peer& peer, const Bytes& bytes, std::size_t records) {
  if (peer.state != GossipPeer::State::up) return false;
  if (!transport_.send(peer.key, bytes)) {
    ++peer.messages_dropped;
    return false;
  }
  ++peer.messages_sent;
  peer.records_sent += records;
  peer.bytes_sent += bytes.size();
  return true;
}

void Gossip::send_digest(Peer& peer) {
  // Each digest sent may be answered by one delta: an honest peer never
  // sends more, in any order, on one link.
  if (send(peer, encode_link_message(DigestMessage{sendable_digest()}))) ++peer.unanswered;
}

bool Gossip::backed_off(const Peer& peer) const {
  return peer.backed_off_until_ms && clock_() < *peer.backed_off_until_ms;
}

bool Gossip::strike(Peer& peer, std::string_view reason) {
  const std::int64_t now = clock_();
  while (!peer.strikes.empty() && now - peer.strikes.front() >= settings_.strike_window_ms) peer.strikes.pop_front();
  peer.strikes.push_back(now);
  if (peer.strikes.size() < settings_.strikes_max) return false;
  const std::size_t strikes = peer.strikes.size();
  peer.strikes.clear();
  peer.backed_off_until_ms = now + settings_.misbehaving_backoff_ms;
  ++peer.backoffs;
  events_.refused(peer.key, "misbehaving_peer");
  if (peer.state == GossipPeer::State::up || peer.state == GossipPeer::State::connecting)
    transport_.close(peer.key, "misbehaving: " + std::to_string(strikes) + " refusals in " +
                                   std::to_string(settings_.strike_window_ms / 1000) + " s, the last " +
                                   std::string(reason) + "; no link with it for " +
                                   std::to_string(settings_.misbehaving_backoff_ms / 1000) + " s");
  else if (peer.next_dial_ms)
    peer.next_dial_ms = std::max(*peer.next_dial_ms, *peer.backed_off_until_ms);
  return true;
}

void Gossip::misbehaved(const PublicKey& key, std::string_view reason) {
  if (auto found = peers_.find(key); found != peers_.end()) strike(found->second, reason);
}

Digest Gossip::sendable_digest() {
  const Digest& full = host_.digest();
  std::size_t cloud = 0;
  for (const auto& [origin, knowledge] : full) cloud += knowledge.cloud.size();
  if (full.size() <= limits::digest_origins_max && cloud <= limits::digest_cloud_seqs_max) return full;
  // Over the limits our peers hold digests to (net/link_codec): leave out
  // what is over, rather than send what every peer would refuse. Knowledge
  // left out is only claimed less; peers answer with records we hold.
  Digest bounded;
  std::size_t cloud_room = limits::digest_cloud_seqs_max;
  for (const auto& [origin, knowledge] : full) {
    if (bounded.size() == limits::digest_origins_max) {
      ++left_out_.origins;
      continue;
    }
    OriginKnowledge& entry = bounded[origin];
    entry.through = knowledge.through;
    if (knowledge.cloud.size() <= cloud_room) {
      entry.cloud = knowledge.cloud;
      cloud_room -= knowledge.cloud.size();
    } else {
      left_out_.cloud_seqs += knowledge.cloud.size();
    }
  }
  return bounded;
}

void Gossip::link_up(const PublicKey& key) {
  auto found = peers_.find(key);
  if (found == peers_.end()) return transport_.close(key, "not a member");
  Peer& peer = found->second;
  if (backed_off(peer))
    return transport_.close(key, "backed off for misbehaving, " +
                                     std::to_string((*peer.backed_off_until_ms - clock_()) / 1000 + 1) +
                                     " s more");
  peer.state = GossipPeer::State::up;
  peer.next_dial_ms.reset();
  peer.unanswered = 0;  // answers belong to the link their digest went out on
  ++peer.links;
  // The backoff is reset by the first message, not here: a node that the
  // responder refuses sees its own handshake complete before it is closed.
  peer.up_since_ms = clock_();
  peer.last_contact_ms = peer.up_since_ms;
  send(peer, encode_link_message(RosterVersion{host_.roster_version()}));
  // Anti-entropy at once, to catch up after a partition or a restart — from
  // one peer at a time: the others would send the same records.
  const std::int64_t now = clock_();
  if (!catching_up_from_ || *catching_up_from_ == key || now - catching_up_since_ms_ >= settings_.sync_interval_ms) {
    catching_up_from_ = key;
    catching_up_since_ms_ = now;
    send_digest(peer);
  }
}

void Gossip::link_down(const PublicKey& key, const std::string& why) {
  auto found = peers_.find(key);
  if (found == peers_.end()) return;
  Peer& peer = found->second;
  const bool was_up = peer.state == GossipPeer::State::up;
  peer.state = GossipPeer::State::down;
  peer.up_since_ms.reset();
  if (catching_up_from_ == key) catching_up_from_.reset();
  if (was_up) events_.link_lost(key, why);
  schedule_redial(peer);
}

void Gossip::dial_failed(const PublicKey& key) {
  auto found = peers_.find(key);
  if (found == peers_.end() || found->second.state == GossipPeer::State::up) return;
  found->second.state = GossipPeer::State::down;
  schedule_redial(found->second);
}

void Gossip::schedule_redial(Peer& peer) {
  if (!dials(peer.key)) return;
  // Capped exponential backoff, ±25 % jitter so that restarted nodes do not
  // all dial in step.
  std::uniform_real_distribution<double> spread(0.75, 1.25);
  const auto delay = static_cast<std::int64_t>(static_cast<double>(peer.redial_delay_ms) * spread(rng_));
  peer.redial_delay_ms = std::min(peer.redial_delay_ms * 2, settings_.redial_max_ms);
  peer.next_dial_ms = clock_() + delay;
  if (backed_off(peer)) peer.next_dial_ms = std::max(*peer.next_dial_ms, *peer.backed_off_until_ms);
  peer.state = GossipPeer::State::waiting;
}

void Gossip::merged(Peer& peer, std::size_t records, const Received& received) {
  peer.records_received += records;
  peer.records_added += received.added.size();
  peer.refused += received.refused.size();
  for (const auto& error : received.refused) events_.refused(peer.key, std::string(code_name(error.code)));
  push(received.added, &peer.key);  // relay what was new here, never back to the sender
  // A member relays only records it verified: a bad signature is its own
  // doing. (Other refusals can come from an honest relay whose roster, clock
  // or quotas differ from ours.)
  for (const auto& error : received.refused)
    if (error.code == Code::bad_signature && strike(peer, code_name(error.code))) break;
}

namespace {

// How many seqs of an origin we know (through and the cloud above it) that
// the peer does not.
std::uint64_t missing(const OriginKnowledge& ours, const OriginKnowledge* theirs) {
  const std::uint64_t low = theirs != nullptr ? theirs->through : 0;
  std::uint64_t count = 0;
  if (ours.through > low) {
    count = ours.through - low;
    if (theirs != nullptr)
      for (const auto seq : theirs->cloud)
        if (seq > low && seq <= ours.through) --count;
  }
  for (const auto seq : ours.cloud)
    if (theirs == nullptr || (seq > theirs->through && !theirs->cloud.contains(seq))) ++count;
  return count;
}

const OriginKnowledge* find(const Digest& digest, const Origin& origin) {
  auto found = digest.find(origin);
  return found == digest.end() ? nullptr : &found->second;
}

}  // namespace

void Gossip::note_digest(Peer& peer, const Digest& digest) {
  const std::int64_t now = clock_();
  for (const auto& [origin, ours] : host_.digest())
    if (missing(ours, find(digest, origin)) == 0 || !peer.level_ms.contains(origin)) peer.level_ms[origin] = now;
  peer.last_digest = digest;
}

std::map<Origin, OriginLag> Gossip::lag(const PublicKey& key) const {
  std::map<Origin, OriginLag> lag;
  auto found = peers_.find(key);
  if (found == peers_.end() || found->second.messages_received == 0) return lag;
  const Peer& peer = found->second;
  const std::int64_t now = clock_();
  for (const auto& [origin, ours] : host_.digest()) {
    const std::uint64_t seqs = missing(ours, find(peer.last_digest, origin));
    if (seqs == 0) continue;
    const auto level = peer.level_ms.find(origin);
    lag[origin] = OriginLag{seqs, level == peer.level_ms.end() ? 0 : now - level->second};
  }
  return lag;
}

void Gossip::heard(const PublicKey& key) {
  auto found = peers_.find(key);
  if (found != peers_.end() && found->second.state == GossipPeer::State::up) found->second.last_contact_ms = clock_();
}

void Gossip::message(const PublicKey& key, std::span<const std::uint8_t> bytes) {
  auto found = peers_.find(key);
  if (found == peers_.end() || found->second.state != GossipPeer::State::up) return;
  Peer& peer = found->second;
  ++peer.messages_received;
  peer.redial_delay_ms = settings_.redial_min_ms;
  peer.bytes_received += bytes.size();
  peer.last_contact_ms = clock_();
  auto decoded = decode_link_message(bytes);
  if (!decoded) {
    ++peer.refused;
    events_.refused(key, "garbled_message");
    if (strike(peer, "garbled_message")) return;
    return transport_.close(key, "a message that does not decode");
  }
  auto& value = decoded.value();
  if (const auto* version = std::get_if<RosterVersion>(&value)) {
    if (version->version < host_.roster_version()) send(peer, encode_link_message(RosterText{host_.roster_text()}));
    return;
  }
  if (const auto* records = std::get_if<RecordsMessage>(&value)) {
    merged(peer, records->records.size(), host_.receive_records(records->records));
    return;
  }
  if (const auto* digest = std::get_if<DigestMessage>(&value)) {
    note_digest(peer, digest->digest);
    Delta delta = host_.delta_for(digest->digest);
    if (delta.origins.empty() && !delta.truncated) return;
    for (const auto& part : delta.origins)
      if (part.base == 0 && !digest->digest.contains(part.origin)) {
        ++peer.full_resyncs;  // the peer knew nothing of this origin: a wiped or new node
        break;
      }
    const std::size_t count = delta.record_count();
    send(peer, encode_link_message(DeltaMessage{std::move(delta)}), count);
    return;
  }
  if (const auto* delta = std::get_if<DeltaMessage>(&value)) {
    if (peer.unanswered == 0) {
      ++peer.refused;
      ++peer.unasked_deltas;
      events_.refused(key, "unasked_delta");
      strike(peer, "unasked_delta");
      return;
    }
    --peer.unanswered;
    const auto received = host_.receive_delta(delta->delta);
    merged(peer, delta->delta.record_count(), received);
    // Ask for the rest at once only if this answer brought something: an
    // answer we refuse would otherwise be asked for again and again.
    const bool more = delta->delta.truncated && !received.added.empty();
    if (more) send_digest(peer);
    if (catching_up_from_ == key) {
      if (more) catching_up_since_ms_ = clock_();
      else catching_up_from_.reset();
    }
    return;
  }
  events_.roster_offered(key, std::get<RosterText>(value).text);
}

void Gossip::committed(const std::vector<Record>& records) { push(records, nullptr); }

void Gossip::push(const std::vector<Record>& records, const PublicKey* except) {
  if (records.empty()) return;
  for (std::size_t at = 0; at < records.size(); at += limits::records_per_frame_max) {
    RecordsMessage message;
    const std::size_t end = std::min(records.size(), at + limits::records_per_frame_max);
    message.records.assign(records.begin() + static_cast<std::ptrdiff_t>(at),
                           records.begin() + static_cast<std::ptrdiff_t>(end));
    const Bytes bytes = encode_link_message(message);
    for (auto& [key, peer] : peers_) {
      if (except != nullptr && key == *except) continue;  // never back to where they came from
      send(peer, bytes, message.records.size());
    }
  }
}

void Gossip::roster_changed() {
  const Bytes bytes = encode_link_message(RosterText{host_.roster_text()});
  for (auto& [key, peer] : peers_) send(peer, bytes);
}

void Gossip::tick() {
  const std::int64_t now = clock_();
  // tick() runs at least every sync interval; one that comes later than the
  // silence limit means this node itself was stalled. Its peers have closed
  // its links meanwhile, and the bytes still in its sockets are old: close
  // every link and redial at the shortest backoff.
  const bool stalled = last_tick_ms_ && now - *last_tick_ms_ > settings_.silence_max_ms;
  const std::int64_t stalled_ms = last_tick_ms_ ? now - *last_tick_ms_ : 0;
  last_tick_ms_ = now;
  if (stalled) {
    std::vector<PublicKey> up;
    for (auto& [key, peer] : peers_) {
      peer.redial_delay_ms = settings_.redial_min_ms;
      if (peer.state == GossipPeer::State::up) up.push_back(key);
      if (peer.state == GossipPeer::State::waiting && dials(key) && !backed_off(peer)) peer.next_dial_ms = now;
    }
    for (const auto& key : up) transport_.close(key, "this node was stalled for " + std::to_string(stalled_ms / 1000) +
                                                        " s; reconnecting");
  }
  for (auto& [key, peer] : peers_) {
    if (peer.state == GossipPeer::State::waiting && peer.next_dial_ms && *peer.next_dial_ms <= now) {
      peer.next_dial_ms.reset();
      peer.state = GossipPeer::State::connecting;
      transport_.dial(key);
    }
  }
  if (now < next_sync_ms_) return;
  next_sync_ms_ = now + settings_.sync_interval_ms;
  const bool announce = now >= next_announce_ms_;
  if (announce) next_announce_ms_ = now + settings_.roster_announce_ms;
  // Anti-entropy every sync interval: each peer answers with what we lack.
  // A peer sends its digest every interval too, so a link silent for several
  // is dead (a half-open connection after a partition): close it to redial.
  std::vector<std::pair<PublicKey, std::string>> silent;
  for (auto& [key, peer] : peers_) {
    if (peer.state != GossipPeer::State::up) continue;
    if (peer.last_contact_ms && now - *peer.last_contact_ms > settings_.silence_max_ms) {
      silent.emplace_back(key, "silent for " + std::to_string((now - *peer.last_contact_ms) / 1000) + " s");
      continue;
    }
    send_digest(peer);
    if (announce) send(peer, encode_link_message(RosterVersion{host_.roster_version()}));
  }
  for (const auto& [key, why] : silent) transport_.close(key, why);
}

std::int64_t Gossip::next_wakeup_ms() const {
  std::int64_t next = next_sync_ms_;
  for (const auto& [key, peer] : peers_)
    if (peer.state == GossipPeer::State::waiting && peer.next_dial_ms) next = std::min(next, *peer.next_dial_ms);
  return next;
}

}  // namespace placemesh
