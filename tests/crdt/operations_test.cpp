#include "crdt/operations.hpp"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "crdt/board.hpp"
#include "crdt/limits.hpp"
#include "world.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {

// The specification, kept apart from the code under test: plain arithmetic
// over the operations that were accepted.
struct Oracle {
  struct Pool {
    std::int64_t occupied = 0;
    std::map<std::string, std::int64_t> blocked;
    std::optional<std::tuple<Hlc, Origin, std::int64_t>> operational;  // last writer wins
  };
  struct Hold {
    std::string pool;
    std::int64_t count = 0;
    std::int64_t expires_at_ms = 0;
    int state = 0;  // 0 held, 1 expired, 2 cancelled, 3 confirmed: the largest wins
  };
  std::map<std::string, Pool> pools;
  std::map<std::string, Hold> holds;

  void take(const Op& op) {
    auto& pool = pools[op.pool];
    switch (op.kind) {
      case Op::Kind::admit: pool.occupied += op.count; break;
      case Op::Kind::release: pool.occupied -= op.count; break;
      case Op::Kind::block: pool.blocked[op.reason] += op.count; break;
      case Op::Kind::unblock: pool.blocked[op.reason] -= op.count; break;
      case Op::Kind::operational: {
        auto candidate = std::make_tuple(op.hlc, op.origin, op.value);
        if (!pool.operational || std::tie(std::get<0>(candidate), std::get<1>(candidate)) >
                                     std::tie(std::get<0>(*pool.operational), std::get<1>(*pool.operational)))
          pool.operational = candidate;
        break;
      }
      case Op::Kind::reserve: holds[op.pool + " " + op.id] = Hold{op.pool, op.count, op.expires_at_ms, 0}; break;
      case Op::Kind::confirm:
        // The count the oracle itself recorded when the hold was made.
        pool.occupied += holds.at(op.pool + " " + op.id).count;
        close(op, 3);
        break;
      case Op::Kind::cancel: close(op, 2); break;
      case Op::Kind::expire: close(op, 1); break;
      case Op::Kind::heartbeat:
      case Op::Kind::create_rights:
      case Op::Kind::transfer: break;
    }
  }
  void close(const Op& op, int state) {
    auto& hold = holds.at(op.pool + " " + op.id);
    hold.state = std::max(hold.state, state);
  }
  std::int64_t reserved(const std::string& pool, std::int64_t now_ms) const {
    std::int64_t total = 0;
    for (const auto& [id, hold] : holds)
      if (hold.pool == pool && hold.state == 0 && hold.expires_at_ms > now_ms) total += hold.count;
    return total;
  }
};

BoardSpec test_spec() {
  BoardSpec spec;
  spec.centres.push_back(CentreSpec{"CAR", "Caricole", {}, {{"CAR/border", Category::border, 100}}});
  spec.centres.push_back(CentreSpec{"CIM", "Merksplas", {}, {{"CIM/men", Category::men, 110}}});
  spec.centres.push_back(CentreSpec{"CIH", "Holsbeek", {}, {{"CIH/women", Category::women, 28}}});
  return spec;
}

}  // namespace

TEST_CASE("operations: after full exchange every replica's board equals the oracle's arithmetic") {
  rc::prop("spec oracle", [] {
    World world(draw<std::size_t>(2, 6));
    Oracle oracle;
    std::vector<std::string> ids;
    const auto steps = draw<int>(1, 250);
    for (int i = 0; i < steps; ++i)
      if (auto op = random_step(world, ids)) oracle.take(*op);
    world.exchange_all();

    const BoardSpec spec = test_spec();
    const std::int64_t now = world.now_ms + draw<std::int64_t>(0, 5 * 3'600'000);
    const Board first = derive_board(world.replicas[0].ledger, spec, now);
    for (const auto& replica : world.replicas) {
      replica.ledger.check_invariants();
      RC_ASSERT(replica.ledger == world.replicas[0].ledger);
      const Board board = derive_board(replica.ledger, spec, now);
      RC_ASSERT(board == first);
      for (const auto& centre : board.centres) {
        for (const auto& pool : centre.pools) {
          const auto& expected = oracle.pools[pool.pool];
          RC_ASSERT(pool.occupied == expected.occupied);
          std::int64_t blocked = 0;
          for (const auto& [reason, count] : expected.blocked) {
            const auto found = pool.blocked_by_reason.find(reason);
            RC_ASSERT((found == pool.blocked_by_reason.end() ? 0 : found->second) == count);
            blocked += count;
          }
          RC_ASSERT(pool.blocked == blocked);
          const std::int64_t operational =
              expected.operational ? std::get<2>(*expected.operational) : pool.design;
          RC_ASSERT(pool.operational == operational);
          RC_ASSERT(pool.reserved == oracle.reserved(pool.pool, now));
          RC_ASSERT(pool.available == pool.operational - pool.occupied - pool.blocked - pool.reserved);
          RC_ASSERT(pool.overbooked == (pool.available < 0));
        }
      }
    }
  });
}

TEST_CASE("operations: counts of zero, negative or above the limit are rejected, not wrapped") {
  Writer writer(make_origin(0));
  Ledger ledger;
  for (std::int64_t count : {std::int64_t{0}, std::int64_t{-1}, limits::operation_count_max + 1,
                             std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()}) {
    INFO("count " << count);
    CHECK(admit(writer, ledger, "CIM/men", count, start_ms).error().code == Code::count_out_of_range);
    CHECK(release(writer, ledger, "CIM/men", count, start_ms).error().code == Code::count_out_of_range);
    CHECK(block(writer, ledger, "CIM/men", "damage", count, start_ms).error().code == Code::count_out_of_range);
    CHECK(unblock(writer, ledger, "CIM/men", "damage", count, start_ms).error().code == Code::count_out_of_range);
    CHECK(create_rights(writer, ledger, "CIM/men", count, start_ms).error().code == Code::count_out_of_range);
    CHECK(reserve(writer, ledger, "CIM/men", "r1", count, start_ms + 1'000, "", start_ms).error().code ==
          Code::count_out_of_range);
  }
  CHECK(set_operational(writer, ledger, "CIM/men", -1, start_ms).error().code == Code::count_out_of_range);
  CHECK(set_operational(writer, ledger, "CIM/men", limits::pool_places_max + 1, start_ms).error().code ==
        Code::count_out_of_range);
  CHECK(writer.last_seq() == 0);  // refusals consume no seq
  CHECK(ledger == Ledger{});
}

TEST_CASE("operations: a total at its limit refuses more instead of overflowing") {
  Writer writer(make_origin(0));
  Ledger ledger;
  const Record near_limit{writer.origin(), 1, Hlc{start_ms, 0}, occupied_key("CIM/men"),
                          Counter{limits::cumulative_total_max - 1, 0}, {}};
  REQUIRE(ledger.apply_local(near_limit).ok());
  Writer restored(writer.origin(), 1, near_limit.hlc);
  const auto result = admit(restored, ledger, "CIM/men", 2, start_ms);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Code::total_overflow);
  CHECK(admit(restored, ledger, "CIM/men", 1, start_ms).ok());
}

TEST_CASE("operations: releasing or unblocking more than recorded is refused with the figures") {
  World world(1);
  REQUIRE(world.local(0, admit(world.replicas[0].writer, world.replicas[0].ledger, "CIM/men", 3, start_ms)));
  const auto result = release(world.replicas[0].writer, world.replicas[0].ledger, "CIM/men", 5, start_ms);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Code::nothing_to_remove);
  CHECK_THAT(result.error().message(), Catch::Contains("has 3 occupied"));
  CHECK(unblock(world.replicas[0].writer, world.replicas[0].ledger, "CIM/men", "damage", 1, start_ms).error().code ==
        Code::nothing_to_remove);
  CHECK(world.local(0, release(world.replicas[0].writer, world.replicas[0].ledger, "CIM/men", 3, start_ms)));
}

TEST_CASE("operations: admissions past capacity are recorded and shown as overbooked") {
  World world(1);
  auto& [writer, ledger] = world.replicas[0];
  REQUIRE(world.local(0, set_operational(writer, ledger, "CIH/women", 2, start_ms)));
  REQUIRE(world.local(0, admit(writer, ledger, "CIH/women", 3, start_ms)));
  const PoolFigures figures = pool_figures(ledger, PoolSpec{"CIH/women", Category::women, 28}, start_ms);
  CHECK(figures.operational == 2);
  CHECK(figures.occupied == 3);
  CHECK(figures.available == -1);
  CHECK(figures.overbooked);
}

TEST_CASE("operations: a node that lost its disk continues as a new epoch without losing the old counts") {
  World world(2);
  auto& centre = world.replicas[0];
  REQUIRE(world.local(0, admit(centre.writer, centre.ledger, "CIM/men", 4, start_ms)));
  world.exchange_all();
  // The centre's disk is gone: same key, new epoch, empty ledger; it recovers from its peer.
  Origin reborn = centre.writer.origin();
  reborn.epoch = 2;
  centre = Replica{Writer(reborn), Ledger{}};
  world.exchange_all();
  REQUIRE(world.local(0, release(centre.writer, centre.ledger, "CIM/men", 1, start_ms + 10)));
  world.exchange_all();
  for (const auto& replica : world.replicas)
    CHECK(replica.ledger.counter_total(occupied_key("CIM/men")) == Counter{4, 1});
}
