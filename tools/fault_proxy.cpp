#include "tools/fault_proxy.hpp"

#include <asio/connect.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <deque>
#include <future>
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
    server.async_connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), proxy.target_port_),
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
      const auto due = Clock::now() + std::chrono::milliseconds(self->proxy.delay_ms_.load());
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

  void close() {
    if (closed) return;
    closed = true;
    std::error_code ignored;
    client.close(ignored);
    server.close(ignored);
    for (auto& pump : pumps) pump.timer->cancel();
    proxy.open_.erase(shared_from_this());
  }

  FaultProxy& proxy;
  asio::ip::tcp::socket client, server;
  std::array<Pump, 2> pumps;
  bool closed = false;
};

FaultProxy::FaultProxy(std::uint16_t listen_port, std::uint16_t target_port)
    : acceptor_(io_), target_port_(target_port) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), listen_port);
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
