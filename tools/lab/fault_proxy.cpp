#include "tools/lab/fault_proxy.hpp"

#include <asio/connect.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <deque>
#include <future>
#include <random>
#include <vector>

namespace placemesh::tools {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t chunk_bytes = 16 << 10;
constexpr auto hold_poll = std::chrono::milliseconds(5);

}  // namespace

// Two sockets and a pump each way; it ends when either side does.
struct FaultProxy::Connection : std::enable_shared_from_this<FaultProxy::Connection> {
  struct Chunk {
    std::vector<std::uint8_t> bytes;
    Clock::time_point due;
  };
  struct Pump {
    asio::ip::tcp::socket* from;
    asio::ip::tcp::socket* to;
    std::array<std::uint8_t, chunk_bytes> buffer{};
    std::deque<Chunk> queue;
    bool writing = false;
    std::unique_ptr<asio::steady_timer> timer;
    Clock::time_point last_due{};
  };

  Connection(FaultProxy& owner, asio::ip::tcp::socket accepted)
      : proxy(owner), client(std::move(accepted)), server(owner.io_) {
    pumps[0].from = &client;
    pumps[0].to = &server;
    pumps[1].from = &server;
    pumps[1].to = &client;
    for (auto& pump : pumps) pump.timer = std::make_unique<asio::steady_timer>(proxy.io_);
  }

  void start() {
    auto self = shared_from_this();
    server.async_connect(proxy.target_,
                         [self](std::error_code ec) {
                           if (ec) return self->close();
                           // Without this, Nagle waits for the peer's delayed
                           // ACK and adds up to 40 ms of its own.
                           std::error_code ignored;
                           self->client.set_option(asio::ip::tcp::no_delay(true), ignored);
                           self->server.set_option(asio::ip::tcp::no_delay(true), ignored);
                           self->read(self->pumps[0]);
                           self->read(self->pumps[1]);
                         });
  }

  void read(Pump& pump) {
    auto self = shared_from_this();
    pump.from->async_read_some(asio::buffer(pump.buffer), [self, &pump](std::error_code ec, std::size_t n) {
      if (ec || self->closed) return self->close();
      self->proxy.bytes_ += n;
      if (&pump == &self->pumps[0]) self->capture(pump.buffer.data(), n);
      const auto low = self->proxy.delay_low_ms_.load(), high = self->proxy.delay_high_ms_.load();
      const auto drawn = low == high ? low : std::uniform_int_distribution<std::int64_t>(low, high)(self->random);
      const auto due = std::max(pump.last_due, Clock::now() + std::chrono::milliseconds(drawn));
      pump.last_due = due;
      Chunk chunk{std::vector<std::uint8_t>(pump.buffer.begin(), pump.buffer.begin() + static_cast<std::ptrdiff_t>(n)),
                  due};
      if (self->proxy.duplicate_.exchange(false)) pump.queue.push_back(chunk);
      pump.queue.push_back(std::move(chunk));
      self->flush(pump);
      self->read(pump);
    });
  }

  void flush(Pump& pump) {
    if (pump.writing || pump.queue.empty() || closed) return;
    auto self = shared_from_this();
    const bool held = proxy.held_;
    const auto due = pump.queue.front().due;
    if (held || due > Clock::now()) {
      pump.writing = true;  // one timer at a time
      pump.timer->expires_at(held ? Clock::now() + hold_poll : due);
      pump.timer->async_wait([self, &pump](std::error_code) {
        pump.writing = false;
        self->flush(pump);
      });
      return;
    }
    pump.writing = true;
    asio::async_write(*pump.to, asio::buffer(pump.queue.front().bytes), [self, &pump](std::error_code ec, std::size_t) {
      pump.writing = false;
      if (ec) return self->close();
      pump.queue.pop_front();
      self->flush(pump);
    });
  }

  // The first bytes from the client become the proxy's capture.
  void capture(const std::uint8_t* bytes, std::size_t n) {
    if (captured_bytes >= capture_bytes_max) return;
    const std::size_t take = std::min(n, capture_bytes_max - captured_bytes);
    std::lock_guard lock(proxy.captured_mutex_);
    if (captured_bytes == 0) {  // this connection's first bytes: it becomes the capture
      proxy.captured_.clear();
      proxy.capture_owner_ = this;
    }
    captured_bytes += take;
    if (proxy.capture_owner_ != this) return;  // a newer connection took over
    proxy.captured_.insert(proxy.captured_.end(), bytes, bytes + take);
  }

  void close() {
    if (closed) return;
    closed = true;
    std::error_code ignored;
    // shutdown first: the far ends get their FIN (or RST) now, even if some
    // other process holds a copy of the descriptor.
    client.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    server.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    client.close(ignored);
    server.close(ignored);
    for (auto& pump : pumps) pump.timer->cancel();
    proxy.open_.erase(shared_from_this());
  }

  FaultProxy& proxy;
  asio::ip::tcp::socket client, server;
  std::array<Pump, 2> pumps;
  bool closed = false;
  std::size_t captured_bytes = 0;
  std::minstd_rand random{std::random_device{}()};
};

FaultProxy::FaultProxy(std::uint16_t listen_port, std::uint16_t target_port)
    : FaultProxy("127.0.0.1", listen_port, target_port) {}

FaultProxy::FaultProxy(const std::string& host, std::uint16_t listen_port, std::uint16_t target_port)
    : acceptor_(io_), target_(asio::ip::make_address_v4(host), target_port) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4(host), listen_port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

FaultProxy::~FaultProxy() {
  asio::post(io_, [this] {
    std::error_code ignored;
    acceptor_.close(ignored);
    auto open = open_;
    for (const auto& connection : open) connection->close();
    io_.stop();
  });
  thread_.join();
}

void FaultProxy::accept() {
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec && !cut_) {
      ++connections_;
      auto connection = std::make_shared<Connection>(*this, std::move(socket));
      open_.insert(connection);
      connection->start();
    }  // refused while cut: the socket closes as it goes out of scope
    accept();
  });
}

std::vector<std::uint8_t> FaultProxy::captured() const {
  std::lock_guard lock(captured_mutex_);
  return captured_;
}

void FaultProxy::cut() {
  cut_ = true;
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    auto open = open_;
    for (const auto& connection : open) connection->close();
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace placemesh::tools
