#include "crdt/rights.hpp"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "world.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {

constexpr std::string_view pool = "CIM/men";

// Places promised and not given back: held or confirmed reservations.
std::int64_t promised(const Ledger& ledger) {
  std::int64_t total = 0;
  std::map<std::string, Reservation> joined;
  ledger.for_each_in(Field::reservation, pool, [&](const Record& record) {
    const auto& view = std::get<Reservation>(record.value);
    auto [it, fresh] = joined.emplace(record.key.arg, view);
    if (!fresh) it->second = join(it->second, view);
  });
  for (const auto& [id, reservation] : joined)
    if (reservation.state == ReservationState::held || reservation.state == ReservationState::confirmed)
      total += reservation.count;
  return total;
}

}  // namespace

TEST_CASE("rights: granted reservations never exceed the rights that exist") {
  rc::prop("bounded counter", [] {
    const auto n = draw<std::size_t>(2, 5);
    World world(n);
    std::int64_t created = 0;
    int reservations = 0;
    std::vector<std::string> held;  // ids this schedule may cancel
    const auto steps = draw<int>(1, 200);
    for (int step = 0; step < steps; ++step) {
      world.now_ms += 1'000;
      const auto at = draw<std::size_t>(0, n);
      auto& [writer, ledger] = world.replicas[at];
      const auto count = draw<std::int64_t>(1, 4);
      switch (draw<int>(0, 6)) {
        case 0:  // only the centre (replica 0) creates rights
          if (world.local(0, create_rights(world.replicas[0].writer, world.replicas[0].ledger, pool, count,
                                           world.now_ms)))
            created += count;
          break;
        case 1: {
          const auto to = draw<std::size_t>(0, n);
          if (to != at)
            (void)world.local(at, transfer_rights(writer, ledger, pool, world.replicas[to].writer.origin(), count,
                                                  world.now_ms));
          break;
        }
        case 2:
        case 3: {
          const std::string id = "r" + std::to_string(reservations++);
          const std::int64_t before = rights_at(ledger, pool, writer.origin());
          auto result = reserve(writer, ledger, pool, id, count, world.now_ms + 3'600'000, "", world.now_ms);
          RC_ASSERT(result.ok() == (before >= count));
          if (!result) {
            const auto code = result.error().code;
            RC_ASSERT(code == Code::no_rights_here || code == Code::rights_held_elsewhere);
          } else {
            held.push_back(id);
          }
          (void)world.local(at, std::move(result));
          break;
        }
        case 4:
          if (!held.empty())
            (void)world.local(at, cancel(writer, ledger, pool, held[draw<std::size_t>(0, held.size())],
                                         world.now_ms));
          break;
        default: {
          const auto to = draw<std::size_t>(0, n);
          if (to != at) world.sync(at, to, draw<std::size_t>(1, 6));
        }
      }
      // Safety on the union of everything written so far, whatever has been delivered.
      Ledger everything;
      for (const auto& replica : world.replicas) everything.merge(replica.ledger);
      for (const auto& holding : rights_by_origin(everything, pool)) RC_ASSERT(holding.rights >= 0);
      RC_ASSERT(promised(everything) <= created);
      RC_ASSERT(rights_total(everything, pool) + promised(everything) <= created);
    }
  });
}

TEST_CASE("rights: a reservation with no rights anywhere says so") {
  World world(2);
  auto& hq = world.replicas[1];
  const auto result = reserve(hq.writer, hq.ledger, pool, "r1", 1, start_ms + 1'000, "", start_ms);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Code::no_rights_here);
  CHECK_THAT(result.error().message(), Catch::Contains("none elsewhere"));
}

TEST_CASE("rights: a reservation where rights are held elsewhere names the holder") {
  World world(2);
  auto& centre = world.replicas[0];
  auto& hq = world.replicas[1];
  REQUIRE(world.local(0, create_rights(centre.writer, centre.ledger, pool, 5, start_ms)));
  world.exchange_all();
  const auto result = reserve(hq.writer, hq.ledger, pool, "r1", 1, start_ms + 1'000, "", start_ms);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Code::rights_held_elsewhere);
  CHECK_THAT(result.error().message(), Catch::Contains("5 held at " + to_string(centre.writer.origin())));
}

TEST_CASE("rights: transferred rights let headquarters reserve while cut off, and only that many") {
  World world(2);
  auto& centre = world.replicas[0];
  auto& hq = world.replicas[1];
  REQUIRE(world.local(0, create_rights(centre.writer, centre.ledger, pool, 5, start_ms)));
  REQUIRE(world.local(0, transfer_rights(centre.writer, centre.ledger, pool, hq.writer.origin(), 2, start_ms)));
  world.sync(0, 1);
  // From here on the two are cut off from each other.
  REQUIRE(world.local(1, reserve(hq.writer, hq.ledger, pool, "hq-1", 2, start_ms + 3'600'000, "ref", start_ms)));
  CHECK(reserve(hq.writer, hq.ledger, pool, "hq-2", 1, start_ms + 3'600'000, "", start_ms).error().code ==
        Code::rights_held_elsewhere);
  REQUIRE(world.local(0, reserve(centre.writer, centre.ledger, pool, "c-1", 3, start_ms + 3'600'000, "", start_ms)));
  // The centre cannot know HQ spent its two: it points the caller there.
  CHECK(reserve(centre.writer, centre.ledger, pool, "c-2", 1, start_ms + 3'600'000, "", start_ms).error().code ==
        Code::rights_held_elsewhere);
  CHECK(rights_at(hq.ledger, pool, hq.writer.origin()) == 0);
  CHECK(rights_at(centre.ledger, pool, centre.writer.origin()) == 0);
}

TEST_CASE("rights: cancelling a hold gives the right back to its holder") {
  World world(1);
  auto& [writer, ledger] = world.replicas[0];
  REQUIRE(world.local(0, create_rights(writer, ledger, pool, 1, start_ms)));
  REQUIRE(world.local(0, reserve(writer, ledger, pool, "r1", 1, start_ms + 1'000, "", start_ms)));
  CHECK(rights_at(ledger, pool, writer.origin()) == 0);
  REQUIRE(world.local(0, cancel(writer, ledger, pool, "r1", start_ms)));
  CHECK(rights_at(ledger, pool, writer.origin()) == 1);
  CHECK(cancel(writer, ledger, pool, "r1", start_ms).error().code == Code::reservation_closed);
  CHECK(cancel(writer, ledger, pool, "nope", start_ms).error().code == Code::unknown_reservation);
  CHECK(reserve(writer, ledger, pool, "r1", 1, start_ms + 1'000, "", start_ms).error().code ==
        Code::reservation_exists);
}

TEST_CASE("rights: two nodes that chose the same reservation id each get back only what they spent") {
  World world(2);
  auto& a = world.replicas[0];
  auto& b = world.replicas[1];
  REQUIRE(world.local(0, create_rights(a.writer, a.ledger, pool, 2, start_ms)));
  REQUIRE(world.local(1, create_rights(b.writer, b.ledger, pool, 3, start_ms)));
  REQUIRE(world.local(0, reserve(a.writer, a.ledger, pool, "X", 2, start_ms + 3'600'000, "", start_ms)));
  REQUIRE(world.local(1, reserve(b.writer, b.ledger, pool, "X", 3, start_ms + 3'600'000, "", start_ms)));
  world.exchange_all();
  // Both cancel before hearing of the other's cancel.
  REQUIRE(world.local(0, cancel(a.writer, a.ledger, pool, "X", start_ms + 1)));
  REQUIRE(world.local(1, cancel(b.writer, b.ledger, pool, "X", start_ms + 1)));
  world.exchange_all();
  CHECK(rights_at(a.ledger, pool, a.writer.origin()) == 2);
  CHECK(rights_at(a.ledger, pool, b.writer.origin()) == 3);
  CHECK(rights_total(a.ledger, pool) == 5);  // no right made from nothing
}

TEST_CASE("rights: a holder whose hold another node closed still gets its rights back") {
  World world(2);
  auto& centre = world.replicas[0];
  auto& hq = world.replicas[1];
  REQUIRE(world.local(1, create_rights(hq.writer, hq.ledger, pool, 1, start_ms)));
  REQUIRE(world.local(1, reserve(hq.writer, hq.ledger, pool, "h1", 1, start_ms + 3'600'000, "", start_ms)));
  world.exchange_all();
  REQUIRE(world.local(0, cancel(centre.writer, centre.ledger, pool, "h1", start_ms + 1)));
  world.exchange_all();
  CHECK(rights_at(hq.ledger, pool, hq.writer.origin()) == 0);
  REQUIRE(world.local(1, cancel(hq.writer, hq.ledger, pool, "h1", start_ms + 2)));
  CHECK(rights_at(hq.ledger, pool, hq.writer.origin()) == 1);
  // Once taken back, it cannot be taken back twice.
  CHECK(cancel(hq.writer, hq.ledger, pool, "h1", start_ms + 3).error().code == Code::reservation_closed);
}
