#pragma once
// Record signatures of large messages from peers, checked on a thread of
// their own (issue 15: keep the io thread free for the API and gossip).
//
// An Ed25519 check costs about 50 µs: a frame of 1,024 records held the io
// thread, and with it every board read and every link of the node, for
// 50 ms; a member gone bad sends such frames as fast as the link takes
// them. A message of at least limits::inbound_check_bytes_min is decoded
// and its records' signatures checked here instead; the message then goes
// to gossip on the io thread with the prints of the records whose
// signatures held (net/record_signing), and the intake checks only the
// others again. Smaller messages (a push of a few records) are taken on the
// io thread at once, unless an earlier message of the same link is still
// here: the messages of one link reach gossip in the order they came.
//
// Small messages are taken at once only while their link stays within
// limits::inbound_at_once_bytes_per_s; past it they are checked here too,
// so that frames just under the size cannot keep the io thread busy.
//
// A link whose waiting messages pass limits::inbound_queue_bytes_max sends
// faster than its records can be checked: it is not read from until half
// of that is taken (TCP then slows the peer; an honest relay is slowed, not
// dropped). Everything of a link that went down is dropped.
//
// While the node takes no records from peers at all (short of room, store
// failed or busy: Replica::taking_from_peers), a large message is passed on
// at once unchecked: the replica refuses it whole before any signature is
// looked at, so checking it would only spend a core for an attacker.
#include <asio/io_context.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "net/link.hpp"
#include "net/record_signing.hpp"

namespace placemesh {

class InboundVerifier {
 public:
  using Bytes = std::vector<std::uint8_t>;
  using Vouched = std::set<RecordPrint>;
  // On the io thread, in each link's order; `vouched` is null for a
  // message taken at once.
  using Deliver = std::function<void(const std::shared_ptr<net::Link>&, const Bytes&, const Vouched* vouched)>;

  // `taking`, on the io thread: would the node take records from peers now?
  InboundVerifier(asio::io_context& io, Deliver deliver, std::function<bool()> taking = [] { return true; });
  ~InboundVerifier();
  InboundVerifier(const InboundVerifier&) = delete;
  InboundVerifier& operator=(const InboundVerifier&) = delete;

  // On the io thread: a message of `link`.
  void message(const std::shared_ptr<net::Link>& link, Bytes bytes);
  // The link is down or replaced: what it still had waiting is dropped.
  void forget(const std::shared_ptr<net::Link>& link);

  // Messages whose records were checked here, those records, and how often
  // a link was paused for want of checking.
  [[nodiscard]] std::uint64_t messages_checked() const { return messages_checked_; }
  [[nodiscard]] std::uint64_t records_checked() const { return records_checked_; }
  [[nodiscard]] std::uint64_t pauses() const { return pauses_; }
  // Large messages passed on unchecked because the node took no records.
  [[nodiscard]] std::uint64_t passed_unchecked() const { return passed_unchecked_; }

 private:
  struct Waiting {
    std::uint64_t id = 0;  // a link forgotten and heard again gets a new one
    std::deque<Bytes> messages;
    std::size_t bytes = 0;
    bool checking = false;  // the front message is on the worker thread (moved there)
    bool paused = false;    // the link is not read from (too much waits)
  };
  struct Job {
    std::shared_ptr<net::Link> link;
    std::uint64_t id = 0;  // of the Waiting it came from
    Bytes bytes;
  };
  void pump(const std::shared_ptr<net::Link>& link);
  // Whether a message of `bytes` from `link` may be taken at once (and
  // counts it if so): small, and within the link's budget this second.
  bool at_once(const std::shared_ptr<net::Link>& link, std::size_t bytes);
  void taken(const std::shared_ptr<net::Link>& link, Waiting& waiting, std::size_t bytes);
  void checked(const std::shared_ptr<net::Link>& link, std::uint64_t id, Bytes bytes, const Vouched& vouched,
               std::size_t records);
  void work();

  asio::io_context& io_;
  Deliver deliver_;
  std::function<bool()> taking_;
  std::map<std::shared_ptr<net::Link>, Waiting> waiting_;  // io thread only
  struct Budget {
    std::int64_t second = 0;  // steady clock, in whole seconds
    std::size_t bytes = 0;    // taken at once within it
  };
  std::map<std::shared_ptr<net::Link>, Budget> at_once_;  // io thread only
  std::uint64_t next_id_ = 0;
  std::uint64_t messages_checked_ = 0, records_checked_ = 0, pauses_ = 0, passed_unchecked_ = 0;
  // Results posted after this object is gone are dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::mutex mutex_;  // guards jobs_ and stop_
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace placemesh
