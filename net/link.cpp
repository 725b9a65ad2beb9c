#include "crdt/limits.hpp"
#include "net/link.hpp"

#include <asio/write.hpp>

namespace placemesh::net {

std::shared_ptr<Link> Link::start(asio::ip::tcp::socket socket, Settings settings, LinkEvents& events) {
  std::shared_ptr<Link> link(new Link(std::move(socket), std::move(settings), events));
  link->begin();
  return link;
}

Link::Link(asio::ip::tcp::socket socket, Settings settings, LinkEvents& events)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      settings_(std::move(settings)),
      events_(events),
      buffer_(limits::link_read_chunk_bytes) {
  std::error_code ec;
  const auto endpoint = socket_.remote_endpoint(ec);
  remote_ = ec ? std::string("unknown") : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

Link::~Link() = default;

void Link::begin() {
  handshake_ = std::make_unique<Handshake>(settings_.role, settings_.self, settings_.network, settings_.membership,
                                           settings_.expected_peer);
  timer_.expires_after(settings_.handshake_timeout);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec && self->open_ && self->channel_ == nullptr) self->fail(std::nullopt, "handshake timeout");
  });
  queue(handshake_->hello());
  read();
}

void Link::read() {
  reading_ = true;
  socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->reading_ = false;
    if (!self->open_) return;
    if (ec) return self->fail(std::nullopt, ec == asio::error::eof ? "closed by peer" : ec.message());
    self->received(std::span(self->buffer_).first(n));
    if (self->open_ && !self->paused_) self->read();
  });
}

void Link::pause_reading() { paused_ = true; }

void Link::resume_reading() {
  paused_ = false;
  if (open_ && !reading_) read();
}

void Link::received(std::span<const std::uint8_t> bytes) {
  if (channel_ == nullptr) {
    auto progress = handshake_->receive(bytes);
    if (!progress.to_send.empty()) queue(std::move(progress.to_send));
    if (progress.failed) return fail(progress.failed, std::string(reject_name(*progress.failed)));
    if (!progress.done) return;
    peer_ = handshake_->peer();
    channel_ = handshake_->take_channel();
    handshake_.reset();
    timer_.cancel();
    if (events_.up) events_.up(shared_from_this());
    if (!open_) return;
    bytes = {};  // bytes past the handshake are already in the channel
  }
  auto opened = channel_->open(bytes);
  for (auto& message : opened.messages) {
    if (!open_) return;
    if (events_.message) events_.message(shared_from_this(), std::move(message));
  }
  if (opened.failed) fail(opened.failed, std::string(reject_name(*opened.failed)));
}

bool Link::send(std::span<const std::uint8_t> message) {
  if (!is_up() || message.size() > limits::frame_bytes_max) {
    ++dropped_;
    return false;
  }
  if (outbox_bytes_ + message.size() > limits::link_send_queue_bytes_max) {
    ++dropped_;
    return false;
  }
  queue(channel_->seal(message));
  return true;
}

void Link::queue(Bytes bytes) {
  outbox_bytes_ += bytes.size();
  outbox_.push_back(std::move(bytes));
  write();
}

void Link::write() {
  if (writing_ || outbox_.empty() || !open_) return;
  writing_ = true;
  asio::async_write(socket_, asio::buffer(outbox_.front()), [self = shared_from_this()](std::error_code ec, std::size_t) {
    self->writing_ = false;
    if (!self->open_) return;
    if (ec) return self->fail(std::nullopt, ec.message());
    self->outbox_bytes_ -= self->outbox_.front().size();
    self->outbox_.pop_front();
    self->write();
  });
}

void Link::close(const std::string& why) { fail(std::nullopt, why); }

void Link::fail(std::optional<Reject> reason, const std::string& why) {
  if (!open_) return;
  open_ = false;
  std::error_code ignored;
  timer_.cancel();
  // Nothing is said to a refused peer: the connection just ends.
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (events_.down) events_.down(shared_from_this(), reason, why);
}

}  // namespace placemesh::net
