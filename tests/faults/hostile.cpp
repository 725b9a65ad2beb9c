#include "tests/faults/hostile.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "net/link_codec.hpp"
#include "net/record_signing.hpp"
#include "net/secure_channel.hpp"
#include "node/clock.hpp"
#include "tools/lab/bench_common.hpp"

namespace placemesh::faults {

namespace {

using Clock = std::chrono::steady_clock;

// Reads until the peer closes or the deadline passes; what arrived goes to
// `received` (if given).
bool wait_closed(int fd, Clock::time_point until, Exchange& exchange, std::vector<std::uint8_t>* received = nullptr) {
  std::uint8_t buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left)) <= 0) return false;
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      exchange.closed_by_peer = true;
      return true;
    }
    exchange.bytes_received += static_cast<std::size_t>(n);
    if (received) received->insert(received->end(), buffer, buffer + n);
    if (received) return false;  // the caller wants to look at it
  }
}

}  // namespace

std::vector<std::uint8_t> random_bytes(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<std::uint8_t> out(count);
  for (auto& byte : out) byte = static_cast<std::uint8_t>(random());
  return out;
}

Exchange send_bytes(const Endpoint& to, const std::vector<std::uint8_t>& bytes, std::chrono::milliseconds deadline) {
  Exchange exchange;
  const int fd = bench::connect_tcp(to.host, to.port);
  if (fd < 0) return exchange;
  exchange.connected = true;
  // The node may close before taking everything: that is a refusal too.
  (void)bench::send_all(fd, bytes);
  (void)wait_closed(fd, Clock::now() + deadline, exchange);
  ::close(fd);
  return exchange;
}

namespace {

// Dials as `self` and completes the handshake with the node whose key is
// `node_key`; the channel when it is done (null if not: `note` says why).
std::unique_ptr<net::Channel> shake_hands(int fd, const std::string& network, const SecretKey& self,
                                          const PublicKey& node_key, Clock::time_point until, Exchange& exchange) {
  net::Handshake handshake(
      net::Handshake::Role::initiator, net::Signer::of(self), network,
      [&](const PublicKey& key) { return key == node_key ? net::KeyStatus::member : net::KeyStatus::unknown; },
      node_key);
  if (!bench::send_all(fd, handshake.hello())) return nullptr;
  for (;;) {
    std::vector<std::uint8_t> received;
    if (wait_closed(fd, until, exchange, &received) || received.empty()) return nullptr;
    auto progress = handshake.receive(received);
    if (!progress.to_send.empty()) (void)bench::send_all(fd, progress.to_send);
    if (progress.failed) {
      exchange.note = "we refused the node: " + std::string(net::reject_name(*progress.failed));
      return nullptr;
    }
    if (progress.done) {
      exchange.note = "handshake done on our side";
      return handshake.take_channel();
    }
  }
}

}  // namespace

Exchange handshake_as(const Endpoint& to, const std::string& network, const SecretKey& self, const PublicKey& node_key,
                      AfterHandshake after, std::chrono::milliseconds deadline) {
  Exchange exchange;
  const auto until = Clock::now() + deadline;
  const int fd = bench::connect_tcp(to.host, to.port);
  if (fd < 0) return exchange;
  exchange.connected = true;
  if (auto channel = shake_hands(fd, network, self, node_key, until, exchange)) {
    std::vector<std::uint8_t> frame;
    if (after == AfterHandshake::oversize_frame) {
      const auto length = static_cast<std::uint32_t>(limits::frame_bytes_max * 16);  // 16 MiB announced, a few bytes sent
      frame = {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
               static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 1, 2, 3, 4};
    } else if (after == AfterHandshake::forged_frame) {
      const std::vector<std::uint8_t> message(64, 0x5a);
      frame = channel->seal(message);
      frame[frame.size() / 2] ^= 0x01;
    }
    if (!frame.empty()) (void)bench::send_all(fd, frame);
  }
  if (!exchange.closed_by_peer) (void)wait_closed(fd, until, exchange);
  ::close(fd);
  return exchange;
}

Exchange member_sends(const Endpoint& to, const std::string& network, const SecretKey& self,
                      const PublicKey& node_key, const std::vector<Bytes>& messages, std::chrono::milliseconds hold,
                      const std::function<bool()>& done) {
  Exchange exchange;
  const auto until = Clock::now() + hold;
  const int fd = bench::connect_tcp(to.host, to.port);
  if (fd < 0) return exchange;
  exchange.connected = true;
  if (auto channel = shake_hands(fd, network, self, node_key, until, exchange)) {
    std::size_t sent = 0;
    const auto started = Clock::now();
    for (const auto& message : messages) {
      const auto sealed = channel->seal(message);
      if (!bench::send_all(fd, sealed)) continue;
      ++sent;
      exchange.bytes_sent += sealed.size();
    }
    exchange.send_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    exchange.note = std::to_string(sent) + " of " + std::to_string(messages.size()) + " messages sent on a link";
    // Read (and drop) what the node sends until it closes or the hold ends.
    // A roster version no node runs yet is answered with nothing.
    const auto keep_alive = encode_link_message(RosterVersion{std::numeric_limits<std::uint64_t>::max()});
    auto next_keep_alive = Clock::now() + std::chrono::seconds(1);
    std::vector<std::uint8_t> ignored;
    while (!exchange.closed_by_peer && Clock::now() < until && !(done && done())) {
      ignored.clear();
      if (!done) {
        (void)wait_closed(fd, until, exchange, &ignored);
        continue;
      }
      (void)wait_closed(fd, std::min(until, Clock::now() + std::chrono::milliseconds(100)), exchange, &ignored);
      if (Clock::now() >= next_keep_alive) {
        (void)bench::send_all(fd, channel->seal(keep_alive));  // sealed anew: a repeated frame is refused
        next_keep_alive = Clock::now() + std::chrono::seconds(1);
      }
    }
  }
  ::close(fd);
  return exchange;
}

namespace {
// Records messages of at most records_per_frame_max records each.
std::vector<Bytes> records_messages(const std::vector<Record>& records) {
  std::vector<Bytes> messages;
  for (std::size_t at = 0; at < records.size(); at += limits::records_per_frame_max) {
    RecordsMessage message;
    message.records.assign(records.begin() + static_cast<std::ptrdiff_t>(at),
                           records.begin() + static_cast<std::ptrdiff_t>(std::min(records.size(), at + limits::records_per_frame_max)));
    messages.push_back(encode_link_message(message));
  }
  return messages;
}
}  // namespace

std::vector<Bytes> epoch_flood(const SecretKey& key, std::size_t epochs) {
  std::vector<Record> records;
  const std::int64_t now_ms = wall_now_ms();
  std::mt19937_64 random(static_cast<std::uint64_t>(now_ms));
  for (std::size_t i = 0; i < epochs; ++i) {
    Record record{Origin{key.public_key(), i == 0 ? stolen_epoch : random()}, 1, Hlc{now_ms, 0}, heartbeat_key(),
                  Heartbeat{}, {}};
    sign_record(record, key);
    records.push_back(std::move(record));
  }
  return records_messages(records);
}

namespace {
// Reservations of `key` in `pool`, in stolen_epoch from `first_seq`, each
// of one place, signed: the i-th has id `id(i)`, and `reference` (the id
// when empty).
std::vector<Bytes> reservations(const SecretKey& key, const std::string& pool, std::uint64_t first_seq,
                                std::size_t count, ReservationState state, std::int64_t expires_at_ms,
                                const std::function<std::string(std::size_t)>& id, const std::string& reference) {
  std::vector<Record> records;
  records.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string name = id(i);
    Record record{Origin{key.public_key(), stolen_epoch}, first_seq + i, Hlc{wall_now_ms(), 0},
                  reservation_key(pool, name),
                  Reservation{state, 1, expires_at_ms, reference.empty() ? name : reference}, {}};
    sign_record(record, key);
    records.push_back(std::move(record));
  }
  return records_messages(records);
}
}  // namespace

std::vector<Bytes> hold_flood(const SecretKey& key, const std::string& pool, std::size_t holds,
                              std::int64_t expires_at_ms) {
  return reservations(key, pool, 2, holds, ReservationState::held, expires_at_ms,
                      [](std::size_t i) { return "stolen-" + std::to_string(i); }, "stolen");
}

std::vector<Bytes> key_flood(const SecretKey& key, const std::string& pool, std::uint64_t first_seq,
                             std::size_t count) {
  return reservations(key, pool, first_seq, count, ReservationState::cancelled, wall_now_ms(), [](std::size_t i) {
    std::string reference = "filler-" + std::to_string(i) + "-";
    reference.resize(limits::reservation_reference_bytes_max, 'x');
    return reference;
  }, "");
}

std::vector<Bytes> misbehaving_member(const SecretKey& key, std::size_t count) {
  const std::int64_t now_ms = wall_now_ms();
  std::mt19937_64 random(static_cast<std::uint64_t>(now_ms) ^ 0x5eed);
  std::vector<Bytes> messages;
  for (std::size_t i = 0; i < count; ++i) {
    Record record{Origin{key.public_key(), random()}, 1, Hlc{now_ms, 0}, heartbeat_key(), Heartbeat{}, {}};
    sign_record(record, key);
    record.signature[0] ^= 0x01;
    RecordsMessage forged;
    forged.records.push_back(std::move(record));
    messages.push_back(encode_link_message(forged));
    messages.push_back(encode_link_message(DeltaMessage{Delta{}}));
  }
  return messages;
}

struct SlowClients::State {
  std::mutex mutex;
  std::vector<int> fds;
  std::vector<bool> slow, closed;
  std::atomic<bool> stop{false};
  std::thread thread;
};

SlowClients::SlowClients(const Endpoint& api, int idle, int slow, const std::vector<std::string>& sources)
    : state_(std::make_unique<State>()) {
  static const std::string request_line = "GET /v1/board HTTP/1.1\r\nHost: slow\r\nX-Slow: ";
  for (int i = 0; i < idle + slow; ++i) {
    const std::string source =
        sources.empty() ? std::string() : sources[static_cast<std::size_t>(i) % sources.size()];
    const int fd = bench::connect_tcp(api.host, api.port, source);
    if (fd < 0) continue;
    const bool is_slow = i >= idle;
    if (is_slow) (void)bench::send_all(fd, request_line);
    state_->fds.push_back(fd);
    state_->slow.push_back(is_slow);
    state_->closed.push_back(false);
  }
  state_->thread = std::thread([state = state_.get()] {
    while (!state->stop) {
      {
        std::lock_guard lock(state->mutex);
        for (std::size_t i = 0; i < state->fds.size(); ++i) {
          if (state->closed[i]) continue;
          const std::uint8_t byte = 'a';
          if (state->slow[i] && !bench::send_all(state->fds[i], std::span(&byte, 1))) state->closed[i] = true;
        }
      }
      for (int tick = 0; tick < 10 && !state->stop; ++tick)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // one byte a second is the fault itself
    }
  });
}

SlowClients::~SlowClients() {
  state_->stop = true;
  state_->thread.join();
  for (const int fd : state_->fds) ::close(fd);
}

int SlowClients::opened() const { return static_cast<int>(state_->fds.size()); }

int SlowClients::closed_by_node() {
  std::lock_guard lock(state_->mutex);
  int closed = 0;
  for (std::size_t i = 0; i < state_->fds.size(); ++i) {
    if (!state_->closed[i]) {
      pollfd entry{state_->fds[i], POLLIN | POLLRDHUP, 0};
      if (::poll(&entry, 1, 0) > 0) {
        std::uint8_t buffer[512];
        const auto n = ::recv(state_->fds[i], buffer, sizeof buffer, MSG_DONTWAIT);
        // EOF, a reset, or an answer (a 408 or 400) followed by EOF: the node let go.
        if (n <= 0 || (entry.revents & (POLLRDHUP | POLLHUP)) != 0) state_->closed[i] = true;
      }
    }
    closed += state_->closed[i] ? 1 : 0;
  }
  return closed;
}

}  // namespace placemesh::faults
