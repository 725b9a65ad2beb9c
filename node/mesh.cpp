#include "node/mesh.hpp"

#include <spdlog/spdlog.h>

#include "crdt/limits.hpp"
#include "node/clock.hpp"

namespace placemesh {

namespace {

std::string host_of(const std::string& remote) { return remote.substr(0, remote.rfind(':')); }

}  // namespace

Mesh::Mesh(asio::io_context& io, const Config& config, const SecretKey& key)
    : io_(io), config_(config), key_(key), acceptor_(io), accept_timer_(io), tick_timer_(io) {
  events_.up = [this](const std::shared_ptr<net::Link>& link) { on_up(link); };
  events_.message = [this](const std::shared_ptr<net::Link>& link, net::Bytes message) {
    if (!inbound_) return;
    // Heard now, however long the message then waits for the verifier: a
    // peer sending large honest deltas is not closed as silent.
    if (current(link)) core_->gossip().heard(link->peer());
    inbound_->message(link, std::move(message));
  };
  events_.down = [this](const std::shared_ptr<net::Link>& link, std::optional<net::Reject> reason,
                        const std::string& why) { on_down(link, reason, why); };
}

Mesh::~Mesh() { stop(); }

bool Mesh::current(const std::shared_ptr<net::Link>& link) const {
  auto found = links_.find(link->peer());
  return found != links_.end() && found->second.link == link;
}

void Mesh::deliver(const std::shared_ptr<net::Link>& link, const net::Bytes& message,
                   const InboundVerifier::Vouched* vouched) {
  if (!current(link)) return;
  // The records whose signatures the verifier checked are not checked again.
  Replica& replica = core_->replica();
  replica.vouch(vouched);
  struct Unvouch {
    Replica& replica;
    ~Unvouch() { replica.vouch(nullptr); }
  } unvouch{replica};
  core_->gossip().message(link->peer(), message);
}

std::string Mesh::describe(const PublicKey& peer) const {
  auto found = links_.find(peer);
  return found != links_.end() && found->second.link ? found->second.link->remote() : core_->name_of(peer);
}

net::Link::Settings Mesh::settings(net::Handshake::Role role, std::optional<PublicKey> expected) const {
  return net::Link::Settings{role,
                             net::Signer::of(key_),
                             core_->roster().network,
                             [this](const PublicKey& peer) { return core_->key_status(peer); },
                             expected,
                             std::chrono::milliseconds(limits::handshake_timeout_ms)};
}

Status Mesh::start(NodeCore& core) {
  core_ = &core;
  inbound_ = std::make_unique<InboundVerifier>(
      io_, [this](const std::shared_ptr<net::Link>& link, const net::Bytes& message,
                  const InboundVerifier::Vouched* vouched) { deliver(link, message, vouched); },
      [this] { return core_->replica().taking_from_peers(); });
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
  return Ok{};
}

void Mesh::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  tick_timer_.cancel();
  accept_timer_.cancel();
  auto handshaking = std::move(handshaking_);
  for (auto& link : handshaking) link->close("stopping");
  for (auto& [key, links] : links_) {
    if (auto link = links.link) link->close("stopping");
    if (auto dialling = links.dialling) dialling->close("stopping");
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
    const std::string host = HandshakeGate::plain_host(socket.remote_endpoint(endpoint_ec).address().to_string());
    std::size_t from_host = 0;
    for (const auto& link : handshaking_) from_host += HandshakeGate::plain_host(host_of(link->remote())) == host;
    if (gate_roster_version_ != core_->roster().version) {
      std::set<std::string> hosts;
      // This node's own host too: a forwarder in front of its gossip port
      // (a TLS terminator, the fault campaign's proxy) connects from there
      // on behalf of every peer.
      for (const auto& node : core_->roster().nodes)
        if (auto endpoint = parse_endpoint(node.address)) {
          // As the acceptor prints a peer's address (a name stays as written).
          std::error_code ec_host;
          const auto address = asio::ip::make_address(endpoint->host, ec_host);
          hosts.insert(ec_host ? endpoint->host : address.to_string());
        }
      gate_.set_member_hosts(std::move(hosts));
      gate_roster_version_ = core_->roster().version;
    }
    // Closed at once when refused: the socket goes out of scope.
    switch (gate_.admit(host, HandshakeGate::prefix_of(host), steady_now_ms(), handshaking_.size(), from_host)) {
      case HandshakeGate::Verdict::rate_limited: count_rejection("handshake_rate", host); break;
      case HandshakeGate::Verdict::slots_full: count_rejection("handshake_slots_full", host); break;
      case HandshakeGate::Verdict::admit:
        handshaking_.push_back(net::Link::start(std::move(socket), settings(net::Handshake::Role::responder, {}),
                                                events_));
        break;
    }
    accept();
  });
}

void Mesh::dial(const PublicKey& key) {
  if (stopped_) return;
  const RosterNode* node = core_->roster().find_node(key);
  const auto endpoint = node ? parse_endpoint(node->address) : std::nullopt;
  std::error_code ec;
  const auto address = endpoint ? asio::ip::make_address(endpoint->host, ec) : asio::ip::address{};
  if (!endpoint || ec) {
    count_rejection("bad_address", core_->name_of(key));
    // Not from within the gossip's own call: answer on the next turn.
    return asio::post(io_, [this, key] {
      if (!stopped_) core_->gossip().dial_failed(key), rearm();
    });
  }
  auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
  // A black-holed address must not hold the dial for the kernel's minutes.
  auto deadline = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(limits::handshake_timeout_ms));
  deadline->async_wait([socket](std::error_code timer_ec) {
    std::error_code ignored;
    if (!timer_ec) socket->close(ignored);
  });
  socket->async_connect(asio::ip::tcp::endpoint(address, endpoint->port),
                        [this, socket, deadline, key](std::error_code connect_ec) {
                          deadline->cancel();
                          if (stopped_) return;
                          if (connect_ec) {
                            core_->gossip().dial_failed(key);
                            return rearm();
                          }
                          links_[key].dialling = net::Link::start(
                              std::move(*socket), settings(net::Handshake::Role::initiator, key), events_);
                        });
}

bool Mesh::send(const PublicKey& peer, const Bytes& bytes) {
  auto found = links_.find(peer);
  if (found == links_.end() || !found->second.link || !found->second.link->is_up()) return false;
  return found->second.link->send(bytes);
}

void Mesh::close(const PublicKey& peer, const std::string& why) {
  auto found = links_.find(peer);
  if (found == links_.end()) return;
  // Copies: closing calls on_down, which resets these members.
  if (auto link = found->second.link) link->close(why);
  if (auto dialling = found->second.dialling) dialling->close(why);
}

void Mesh::on_up(const std::shared_ptr<net::Link>& link) {
  std::erase(handshaking_, link);
  Links& links = links_[link->peer()];
  if (links.dialling == link) links.dialling.reset();
  auto previous = std::exchange(links.link, link);
  if (previous && previous != link) {
    inbound_->forget(previous);
    previous->close("replaced by a newer link");  // not ours any more: ignored
  }
  spdlog::info("link up with {} ({}, {})", core_->name_of(link->peer()), link->remote(),
               link->role() == net::Handshake::Role::initiator ? "dialled" : "accepted");
  core_->gossip().link_up(link->peer());
  rearm();
}

void Mesh::on_down(const std::shared_ptr<net::Link>& link, std::optional<net::Reject> reason, const std::string& why) {
  std::erase(handshaking_, link);
  if (inbound_) inbound_->forget(link);
  if (reason) count_rejection(std::string(net::reject_name(*reason)), link->remote());
  else if (why == "handshake timeout") count_rejection("handshake_timeout", link->remote());
  if (stopped_) return;
  for (auto& [key, links] : links_) {
    if (links.link == link) {
      links.link.reset();
      core_->gossip().link_down(key, why);
    } else if (links.dialling == link) {
      links.dialling.reset();
      core_->gossip().dial_failed(key);
    } else {
      continue;
    }
    rearm();
    return;
  }
}

void Mesh::tick() {
  armed_for_ms_ = 0;
  core_->tick();
  rearm();
}

void Mesh::rearm() {
  if (stopped_ || core_ == nullptr) return;
  const std::int64_t next = core_->next_wakeup_ms();
  if (armed_for_ms_ != 0 && armed_for_ms_ <= next) return;  // already due earlier
  armed_for_ms_ = next;
  tick_timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, next - steady_now_ms())));
  tick_timer_.async_wait([this](std::error_code ec) {
    if (!ec && !stopped_) tick();
  });
}

void Mesh::count_rejection(const std::string& reason, const std::string& who) {
  ++rejections_[reason];
  const std::string log_key = host_of(who) + " " + reason;
  const std::int64_t now = wall_now_ms();
  if (last_logged_ms_.size() > 4'096)  // many source addresses: forget the old ones
    std::erase_if(last_logged_ms_, [now](const auto& entry) { return now - entry.second >= limits::rejection_log_interval_ms; });
  // A sweep over more sources than that within a minute is counted, not
  // logged source by source: the log must not be the flood's amplifier.
  if (last_logged_ms_.size() > 4'096 && !last_logged_ms_.contains(log_key)) return;
  auto& last = last_logged_ms_[log_key];
  if (last != 0 && now - last < limits::rejection_log_interval_ms) return;  // at most once a minute per peer and reason
  last = now;
  spdlog::warn("refused from {}: {} ({} so far; logged at most once a minute)", who, reason, rejections_[reason]);
}

MeshStatus Mesh::status() const {
  MeshStatus status;
  status.rejections = rejections_;
  // The gossip's times are steady-clock times; the status speaks wall-clock time.
  const std::int64_t to_wall = wall_now_ms() - steady_now_ms();
  auto wall = [to_wall](std::optional<std::int64_t>& ms) {
    if (ms) *ms += to_wall;
  };
  const Gossip& gossip = core_->gossip();
  status.digest_left_out = gossip.left_out();
  status.checked_messages = inbound_->messages_checked();
  status.checked_records = inbound_->records_checked();
  status.check_pauses = inbound_->pauses();
  status.passed_unchecked = inbound_->passed_unchecked();
  for (const auto& node : core_->roster().nodes) {
    if (node.key == key_.public_key()) continue;
    PeerStatus entry;
    entry.name = node.name;
    if (const GossipPeer* peer = gossip.peer(node.key)) entry.gossip = *peer;
    wall(entry.gossip.up_since_ms);
    wall(entry.gossip.last_contact_ms);
    wall(entry.gossip.next_dial_ms);
    wall(entry.gossip.backed_off_until_ms);
    if (auto found = links_.find(node.key); found != links_.end() && found->second.link)
      entry.remote = found->second.link->remote();
    for (const auto& [origin, lag] : gossip.lag(node.key)) {
      const RosterNode* owner = core_->roster().owner_of(origin.key);
      auto& named = entry.behind[owner ? owner->name : short_name(origin)];
      named.seqs = std::max(named.seqs, lag.seqs);
      named.ms = std::max(named.ms, lag.ms);
    }
    status.peers.push_back(std::move(entry));
  }
  return status;
}

}  // namespace placemesh
