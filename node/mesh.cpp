#include "node/mesh.hpp"

#include <spdlog/spdlog.h>

#include <asio/connect.hpp>

#include "net/link_codec.hpp"

namespace placemesh {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_of(const std::string& remote) { return remote.substr(0, remote.rfind(':')); }

}  // namespace

Mesh::Mesh(asio::io_context& io, const Config& config, const SecretKey& key, Replica& replica)
    : io_(io),
      config_(config),
      key_(key),
      replica_(replica),
      acceptor_(io),
      accept_timer_(io),
      sync_timer_(io),
      jitter_(std::random_device{}()) {
  events_.up = [this](const std::shared_ptr<net::Link>& link) { on_up(link); };
  events_.message = [this](const std::shared_ptr<net::Link>& link, net::Bytes message) {
    on_message(link, std::move(message));
  };
  events_.down = [this](const std::shared_ptr<net::Link>& link, std::optional<net::Reject> reason,
                        const std::string& why) { on_down(link, reason, why); };
}

Mesh::~Mesh() { stop(); }

net::Link::Settings Mesh::settings(net::Handshake::Role role, std::optional<PublicKey> expected) const {
  return net::Link::Settings{
      role,
      net::Signer::of(key_),
      replica_.roster().network,
      [this](const PublicKey& peer) {
        if (peer == key_.public_key()) return net::KeyStatus::unknown;  // a node does not link to itself
        if (replica_.roster().find_node(peer) != nullptr) return net::KeyStatus::member;
        return replica_.roster().is_revoked(peer) ? net::KeyStatus::revoked : net::KeyStatus::unknown;
      },
      expected,
      std::chrono::milliseconds(limits::handshake_timeout_ms)};
}

Status Mesh::start() {
  std::error_code ec;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(config_.gossip_listen.host, ec),
                                         config_.gossip_listen.port);
  if (!ec) acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(Code::bad_config,
                      "gossip_listen = \"" + config_.gossip_listen.to_string() + "\": cannot listen: " + ec.message());
  accept();
  dial_all();
  replica_.on_committed = [this](const std::vector<Record>& records) { push(records, nullptr); };
  sync();
  return Ok{};
}

void Mesh::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  sync_timer_.cancel();
  accept_timer_.cancel();
  replica_.on_committed = nullptr;
  for (auto& link : handshaking_) link->close("stopping");
  handshaking_.clear();
  for (auto& [key, peer] : peers_) {
    if (peer.timer) peer.timer->cancel();
    if (peer.link) peer.link->close("stopping");
    if (peer.dialling) peer.dialling->close("stopping");
  }
}

void Mesh::accept() {
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
    if (stopped_) return;
    if (ec) {
      // Out of descriptors, say: wait a moment instead of spinning.
      count_rejection("accept_failed", ec.message());
      accept_timer_.expires_after(std::chrono::milliseconds(100));
      accept_timer_.async_wait([this](std::error_code timer_ec) {
        if (!timer_ec && !stopped_) accept();
      });
      return;
    }
    std::error_code endpoint_ec;
    const std::string host = socket.remote_endpoint(endpoint_ec).address().to_string();
    std::size_t from_host = 0;
    for (const auto& link : handshaking_) from_host += host_of(link->remote()) == host;
    if (handshaking_.size() >= handshakes_max || from_host >= handshakes_per_host_max) {
      count_rejection("handshake_slots_full", host);  // closed at once: the socket goes out of scope
    } else {
      handshaking_.push_back(net::Link::start(std::move(socket), settings(net::Handshake::Role::responder, {}),
                                              events_));
    }
    accept();
  });
}

bool Mesh::should_dial(const PublicKey& key) const { return key != key_.public_key() && key_.public_key() < key; }

void Mesh::dial_all() {
  for (const auto& node : replica_.roster().nodes) {
    if (!should_dial(node.key)) continue;
    Peer& peer = peers_[node.key];
    const bool waiting = peer.timer && peer.timer->expiry() > asio::steady_timer::clock_type::now();
    if (!peer.link && !peer.dialling && !peer.connecting && !waiting) dial(node.key);
  }
}

void Mesh::dial(const PublicKey& key) {
  if (stopped_) return;
  const RosterNode* node = replica_.roster().find_node(key);
  if (node == nullptr) return;  // removed from the roster meanwhile
  const auto endpoint = parse_endpoint(node->address);
  if (!endpoint) {
    count_rejection("bad_address", node->name);
    return schedule_redial(key);
  }
  std::error_code ec;
  const asio::ip::tcp::endpoint target(asio::ip::make_address(endpoint->host, ec), endpoint->port);
  auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
  Peer& peer = peers_[key];
  if (!peer.timer) peer.timer = std::make_unique<asio::steady_timer>(io_);
  peer.connecting = true;
  // A black-holed address must not hold the dial for the kernel's minutes.
  auto deadline = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(limits::handshake_timeout_ms));
  deadline->async_wait([socket](std::error_code timer_ec) {
    std::error_code ignored;
    if (!timer_ec) socket->close(ignored);
  });
  socket->async_connect(target, [this, socket, deadline, key](std::error_code connect_ec) {
    deadline->cancel();
    if (stopped_) return;
    Peer& dialled = peers_[key];
    dialled.connecting = false;
    if (connect_ec) return schedule_redial(key);
    dialled.dialling = net::Link::start(std::move(*socket), settings(net::Handshake::Role::initiator, key), events_);
  });
}

void Mesh::schedule_redial(const PublicKey& key) {
  if (stopped_ || !should_dial(key) || replica_.roster().find_node(key) == nullptr) return;
  Peer& peer = peers_[key];
  if (!peer.timer) peer.timer = std::make_unique<asio::steady_timer>(io_);
  // Capped exponential backoff, ±25 % jitter so that restarted nodes do not
  // all dial in step.
  std::uniform_real_distribution<double> spread(0.75, 1.25);
  const auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(peer.delay_ms) * spread(jitter_)));
  peer.delay_ms = std::min(peer.delay_ms * 2, redial_delay_max_ms);
  peer.timer->expires_after(delay);
  peer.timer->async_wait([this, key](std::error_code ec) {
    if (ec || stopped_) return;
    Peer& again = peers_[key];
    if (!again.link && !again.dialling && !again.connecting) dial(key);
  });
}

void Mesh::send(Peer& peer, const LinkMessage& message) {
  if (!peer.link || !peer.link->is_up()) return;
  if (peer.link->send(encode_link_message(message))) ++peer.sent;
}

void Mesh::on_up(const std::shared_ptr<net::Link>& link) {
  std::erase(handshaking_, link);
  const RosterNode* node = replica_.roster().find_node(link->peer());
  Peer& peer = peers_[link->peer()];
  if (peer.dialling == link) peer.dialling.reset();
  if (peer.link && peer.link != link) peer.link->close("replaced by a newer link");
  peer.link = link;
  // The backoff is reset by the first message, not here: a node that the
  // responder refuses sees its own handshake complete before it is closed.
  peer.up_since_ms = now_ms();
  peer.last_contact_ms = peer.up_since_ms;
  spdlog::info("link up with {} ({}, {})", node ? node->name : short_name(Origin{link->peer(), 0}), link->remote(),
               link->role() == net::Handshake::Role::initiator ? "dialled" : "accepted");
  send(peer, RosterVersion{replica_.roster().version});
  send(peer, DigestMessage{replica_.digest()});  // anti-entropy at once: catch up after a partition
}

void Mesh::sync() {
  // Anti-entropy every sync interval: each peer answers with what we lack.
  // A peer sends its digest every interval too, so a link silent for several
  // is dead (a half-open connection after a partition): close it to redial.
  const std::int64_t now = now_ms();
  for (auto& [key, peer] : peers_) {
    if (peer.link && peer.link->is_up() && peer.last_contact_ms &&
        now - *peer.last_contact_ms > link_silence_max_ms) {
      peer.link->close("silent for " + std::to_string((now - *peer.last_contact_ms) / 1000) + " s");
      continue;
    }
    send(peer, DigestMessage{replica_.digest()});
  }
  sync_timer_.expires_after(std::chrono::milliseconds(limits::sync_interval_ms));
  sync_timer_.async_wait([this](std::error_code ec) {
    if (!ec && !stopped_) sync();
  });
}

void Mesh::push(const std::vector<Record>& records, const PublicKey* except) {
  if (records.empty()) return;
  for (std::size_t at = 0; at < records.size(); at += limits::records_per_frame_max) {
    RecordsMessage message;
    message.records.assign(records.begin() + static_cast<std::ptrdiff_t>(at),
                           records.begin() + static_cast<std::ptrdiff_t>(
                                                 std::min(records.size(), at + limits::records_per_frame_max)));
    const Bytes bytes = encode_link_message(message);
    for (auto& [key, peer] : peers_) {
      if (except != nullptr && key == *except) continue;  // never back to where they came from
      if (!peer.link || !peer.link->is_up()) continue;
      if (peer.link->send(bytes)) ++peer.sent;
    }
  }
}

void Mesh::count_refused(const Replica::Received& received, const std::string& who) {
  for (const auto& error : received.refused) count_rejection(std::string(code_name(error.code)), who);
}

void Mesh::on_message(const std::shared_ptr<net::Link>& link, net::Bytes bytes) {
  Peer& peer = peers_[link->peer()];
  if (peer.link != link) return;
  if (++peer.received == 1) peer.delay_ms = redial_delay_min_ms;
  peer.last_contact_ms = now_ms();
  auto message = decode_link_message(bytes);
  if (!message) {
    count_rejection("garbled_message", link->remote());
    return link->close("a message that does not decode");
  }
  if (const auto* version = std::get_if<RosterVersion>(&message.value())) {
    if (version->version < replica_.roster().version) send(peer, RosterText{replica_.roster_text()});
    return;
  }
  if (const auto* records = std::get_if<RecordsMessage>(&message.value())) {
    const auto received = replica_.receive_records(records->records);
    count_refused(received, link->remote());
    push(received.added, &link->peer());  // relay what was new here
    return;
  }
  if (const auto* digest = std::get_if<DigestMessage>(&message.value())) {
    peer.last_digest = digest->digest;
    Delta delta = replica_.delta_for(digest->digest);
    if (!delta.origins.empty() || delta.truncated) send(peer, DeltaMessage{std::move(delta)});
    return;
  }
  if (const auto* delta = std::get_if<DeltaMessage>(&message.value())) {
    const auto received = replica_.receive_delta(delta->delta);
    count_refused(received, link->remote());
    push(received.added, &link->peer());
    // Ask for the rest at once only if this answer brought something: an
    // answer we refuse would otherwise be asked for again and again.
    if (delta->delta.truncated && !received.added.empty()) send(peer, DigestMessage{replica_.digest()});
    return;
  }
  const auto& offered = std::get<RosterText>(message.value());
  auto installed = replica_.install_roster(offered.text, config_.admin_key);
  if (!installed) {
    count_rejection("bad_roster", link->remote());
    spdlog::warn("a roster offered by {} was refused: {}", link->remote(), installed.error().message());
    return;
  }
  if (installed.value()) roster_changed();
}

void Mesh::on_down(const std::shared_ptr<net::Link>& link, std::optional<net::Reject> reason, const std::string& why) {
  std::erase(handshaking_, link);
  if (reason) count_rejection(std::string(net::reject_name(*reason)), link->remote());
  else if (why == "handshake timeout") count_rejection("handshake_timeout", link->remote());
  for (auto& [key, peer] : peers_) {
    if (peer.link == link) {
      peer.link.reset();
      peer.up_since_ms.reset();
      const RosterNode* node = replica_.roster().find_node(key);
      if (!stopped_)
        spdlog::info("link down with {}: {}", node ? node->name : short_name(Origin{key, 0}), why);
      schedule_redial(key);
    } else if (peer.dialling == link) {
      peer.dialling.reset();
      schedule_redial(key);
    }
  }
}

void Mesh::count_rejection(const std::string& reason, const std::string& who) {
  ++rejections_[reason];
  const std::string log_key = host_of(who) + " " + reason;
  const std::int64_t now = now_ms();
  if (last_logged_ms_.size() > 4'096)  // many source addresses: forget the old ones
    std::erase_if(last_logged_ms_, [now](const auto& entry) { return now - entry.second >= rejection_log_interval_ms; });
  auto& last = last_logged_ms_[log_key];
  if (last != 0 && now - last < rejection_log_interval_ms) return;  // at most once a minute per peer and reason
  last = now;
  spdlog::warn("refused a link from {}: {} ({} so far; logged at most once a minute)", who, reason,
               rejections_[reason]);
}

void Mesh::roster_changed() {
  for (auto& [key, peer] : peers_) {
    if (replica_.roster().find_node(key) != nullptr) continue;
    if (peer.timer) peer.timer->cancel();
    if (peer.link) peer.link->close("removed from the roster");
    if (peer.dialling) peer.dialling->close("removed from the roster");
  }
  for (auto& [key, peer] : peers_) send(peer, RosterText{replica_.roster_text()});
  dial_all();
}

MeshStatus Mesh::status() const {
  MeshStatus status;
  status.rejections = rejections_;
  for (const auto& node : replica_.roster().nodes) {
    if (node.key == key_.public_key()) continue;
    PeerStatus entry;
    entry.name = node.name;
    entry.state = "down";
    if (auto found = peers_.find(node.key); found != peers_.end()) {
      const Peer& peer = found->second;
      if (peer.link && peer.link->is_up()) {
        entry.state = "up";
        entry.remote = peer.link->remote();
        entry.dropped = peer.link->dropped();
      } else if (peer.dialling) {
        entry.state = "connecting";
      } else if (peer.timer && peer.timer->expiry() > asio::steady_timer::clock_type::now()) {
        entry.state = "waiting";
      }
      entry.up_since_ms = peer.up_since_ms;
      entry.last_contact_ms = peer.last_contact_ms;
      entry.messages_sent = peer.sent;
      entry.messages_received = peer.received;
      // Lag: for each origin we know, how far the peer's knowledge is behind
      // ours, as of its last digest (at most one sync interval old).
      for (const auto& [origin, ours] : peer.received > 0 ? replica_.digest() : Digest{}) {
        const auto theirs = peer.last_digest.find(origin);
        const std::uint64_t their_through = theirs == peer.last_digest.end() ? 0 : theirs->second.through;
        if (ours.through <= their_through) continue;
        const RosterNode* owner = replica_.roster().find_node(origin.key);
        const std::string name = owner ? owner->name : short_name(origin);
        entry.behind[name] = std::max(entry.behind[name], ours.through - their_through);
      }
    }
    status.peers.push_back(entry);
  }
  return status;
}

}  // namespace placemesh
