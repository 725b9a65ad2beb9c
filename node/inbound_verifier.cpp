#include "node/inbound_verifier.hpp"

#include <asio/post.hpp>
#include <chrono>

#include "crdt/limits.hpp"
#include "net/link_codec.hpp"

namespace placemesh {

InboundVerifier::InboundVerifier(asio::io_context& io, Deliver deliver, std::function<bool()> taking)
    : io_(io), deliver_(std::move(deliver)), taking_(std::move(taking)), worker_([this] { work(); }) {}

InboundVerifier::~InboundVerifier() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  worker_.join();
  *alive_ = false;
}

bool InboundVerifier::at_once(const std::shared_ptr<net::Link>& link, std::size_t bytes) {
  if (bytes >= limits::inbound_check_bytes_min) return false;
  const std::int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  Budget& budget = at_once_[link];
  if (budget.second != second) budget = Budget{second, 0};
  if (budget.bytes + bytes > limits::inbound_at_once_bytes_per_s) return false;
  budget.bytes += bytes;
  return true;
}

void InboundVerifier::message(const std::shared_ptr<net::Link>& link, Bytes bytes) {
  auto found = waiting_.find(link);
  if (found == waiting_.end() && at_once(link, bytes.size())) {
    deliver_(link, bytes, nullptr);  // nothing of this link waits: at once
    return;
  }
  if (found == waiting_.end()) {
    found = waiting_.try_emplace(link).first;
    found->second.id = ++next_id_;
  }
  Waiting& waiting = found->second;
  waiting.bytes += bytes.size();
  waiting.messages.push_back(std::move(bytes));
  if (waiting.bytes > limits::inbound_queue_bytes_max && !waiting.paused) {
    waiting.paused = true;
    ++pauses_;
    link->pause_reading();
  }
  pump(link);
}

void InboundVerifier::forget(const std::shared_ptr<net::Link>& link) {
  if (auto found = waiting_.find(link); found != waiting_.end()) {
    if (found->second.paused) link->resume_reading();  // a link still open is read again
    waiting_.erase(found);
  }
  at_once_.erase(link);
}

void InboundVerifier::taken(const std::shared_ptr<net::Link>& link, Waiting& waiting, std::size_t bytes) {
  waiting.bytes -= bytes;
  if (waiting.paused && waiting.bytes <= limits::inbound_queue_bytes_max / 2) {
    waiting.paused = false;
    link->resume_reading();  // the next read completes later, on the io thread
  }
}

void InboundVerifier::pump(const std::shared_ptr<net::Link>& link) {
  // Small messages behind a checked one go at once when their turn comes,
  // within the link's budget; the next large one (or small one past the
  // budget) goes to the worker. A delivery may close the link
  // (and forget it), so the entry is looked up again each time.
  for (;;) {
    auto found = waiting_.find(link);
    if (found == waiting_.end()) return;
    Waiting& waiting = found->second;
    if (waiting.checking) return;
    if (waiting.messages.empty()) {
      if (waiting.paused) link->resume_reading();
      waiting_.erase(found);
      return;
    }
    const std::size_t size = waiting.messages.front().size();
    const bool taking = taking_();
    // Refused whole (not taking), or small within the budget: at once.
    const bool now = !taking || at_once(link, size);
    if (!now) {
      waiting.checking = true;
      {
        std::lock_guard lock(mutex_);
        jobs_.push_back(Job{link, waiting.id, std::move(waiting.messages.front())});
      }
      wake_.notify_one();
      return;
    }
    Bytes bytes = std::move(waiting.messages.front());
    waiting.messages.pop_front();
    taken(link, waiting, bytes.size());
    if (!taking && size >= limits::inbound_check_bytes_min) ++passed_unchecked_;  // refused whole, unchecked
    deliver_(link, bytes, nullptr);
  }
}

void InboundVerifier::checked(const std::shared_ptr<net::Link>& link, std::uint64_t id, Bytes bytes,
                              const Vouched& vouched, std::size_t records) {
  auto found = waiting_.find(link);
  // The link was forgotten meanwhile (and maybe heard again since): dropped.
  if (found == waiting_.end() || found->second.id != id || !found->second.checking) return;
  Waiting& waiting = found->second;
  waiting.checking = false;
  waiting.messages.pop_front();  // the emptied slot of the message that went to the worker
  taken(link, waiting, bytes.size());
  ++messages_checked_;
  records_checked_ += records;
  deliver_(link, bytes, &vouched);
  pump(link);
}

void InboundVerifier::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // What does not decode, or carries no records, goes on as it is: gossip
    // refuses and counts it on the io thread as before.
    Vouched vouched;
    std::size_t records = 0;
    if (auto decoded = decode_link_message(job.bytes)) {
      const auto check = [&](const Record& record) {
        ++records;
        if (record_signature_valid(record)) vouched.insert(record_print(record));
      };
      if (const auto* message = std::get_if<RecordsMessage>(&decoded.value()))
        for (const auto& record : message->records) check(record);
      else if (const auto* answer = std::get_if<DeltaMessage>(&decoded.value()))
        for (const auto& part : answer->delta.origins)
          for (const auto& record : part.records) check(record);
    }
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_), link = std::move(job.link), id = job.id,
                     bytes = std::move(job.bytes), vouched = std::move(vouched), records]() mutable {
      if (auto still = alive.lock(); still && *still) checked(link, id, std::move(bytes), vouched, records);
    });
  }
}

}  // namespace placemesh
