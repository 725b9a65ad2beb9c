#pragma once
// A little world of replicas for the crdt tests: each replica has its own
// Writer and Ledger; the test drives local operations and exchanges between
// them. No network: exchanges are function calls, so every schedule is the
// one RapidCheck drew and a failure shrinks to a small one.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "crdt/ledger.hpp"
#include "crdt/operations.hpp"

namespace placemesh::test {

inline Origin make_origin(std::size_t index, std::uint64_t epoch = 1) {
  Origin origin;
  origin.key[0] = static_cast<std::uint8_t>(index + 1);
  origin.key[31] = 0xAB;
  origin.epoch = epoch;
  return origin;
}

inline constexpr std::int64_t start_ms = 1'700'000'000'000;

// The join laws for any state with `join(into, from)`: commutative,
// idempotent, associative. Returns a ⊔ b for further checks.
template <typename State, typename Join>
State check_join_laws(const State& a, const State& b, const State& c, Join join) {
  State ab = a, ba = b, aa = a;
  join(ab, b);
  join(ba, a);
  join(aa, a);
  RC_ASSERT(ab == ba);
  RC_ASSERT(aa == a);
  State ab_c = ab, bc = b, a_bc = a;
  join(ab_c, c);
  join(bc, c);
  join(a_bc, bc);
  RC_ASSERT(ab_c == a_bc);
  return ab;
}

// A value in [low, high), uniform whatever RapidCheck's current size:
// rc::gen::inRange scales its range with the size, which would make early
// cases choose only the first few operations.
template <typename T>
T draw(T low, T high) {
  return *rc::gen::resize(100, rc::gen::inRange<T>(low, high));
}

struct Replica {
  Writer writer;
  Ledger ledger;
};

struct World {
  std::vector<Replica> replicas;
  std::vector<Record> produced;  // every record any replica wrote, in order
  std::int64_t now_ms = start_ms;

  explicit World(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) replicas.push_back(Replica{Writer(make_origin(i)), Ledger{}});
  }

  // Applies the records of a successful local operation at replica `at`.
  bool local(std::size_t at, Result<Records> result) {
    if (!result) return false;
    for (const auto& record : result.value()) {
      auto applied = replicas[at].ledger.apply_local(record);
      PM_ASSERT(applied.ok() && applied.value() == Applied::added, to_string(record.key));
      produced.push_back(record);
    }
    return true;
  }

  // `to` asks `from` for what it lacks, in answers of at most `budget`
  // records, until an answer brings nothing new. (A digest carries only the
  // contiguous high-water mark, so records above a gap are sent again until
  // someone who knows the gap fills it.) Returns the number of rounds.
  std::size_t sync(std::size_t from, std::size_t to, std::size_t budget = 1'000'000) {
    for (std::size_t rounds = 1;; ++rounds) {
      PM_ASSERT(rounds < 100'000, "sync does not converge");
      const Digest before = replicas[to].ledger.digest();
      const Delta delta = replicas[from].ledger.delta_since(before, budget);
      if (delta.origins.empty()) return rounds;
      const DeltaStats stats = replicas[to].ledger.apply_delta(delta);
      PM_ASSERT(stats.rejected == 0, stats.first_rejection->message());
      if (stats.added == 0 && replicas[to].ledger.digest() == before) return rounds;
    }
  }

  // Every replica learns everything: a round of all-pairs syncs is enough
  // with unbounded answers; a second round checks nothing is left.
  void exchange_all(std::size_t budget = 1'000'000) {
    for (int round = 0; round < 2; ++round)
      for (std::size_t a = 0; a < replicas.size(); ++a)
        for (std::size_t b = 0; b < replicas.size(); ++b)
          if (a != b) sync(a, b, budget);
  }
};

inline const std::vector<std::string> test_pools = {"CAR/border", "CIM/men", "CIH/women"};

// One accepted local operation, as the oracle needs to know it.
struct Op {
  enum class Kind { admit, release, block, unblock, operational, heartbeat, create_rights, transfer,
                    reserve, cancel, confirm, expire };
  Kind kind = Kind::heartbeat;
  std::size_t at = 0;
  std::string pool;
  std::string reason;
  std::int64_t count = 0;
  std::int64_t value = 0;        // operational
  std::string id;                // reservation
  std::int64_t expires_at_ms = 0;
  Hlc hlc;                       // of the operation's last record
  Origin origin;
};

// Draws one step of a random schedule: a local operation at a random replica
// (returned if it was accepted), or a partial exchange between two replicas
// (bounded answers), or a push of one random earlier record, possibly again.
inline std::optional<Op> random_step(World& world, std::vector<std::string>& reservation_ids) {
  using Kind = Op::Kind;
  const auto n = world.replicas.size();
  Op op;
  op.at = draw<std::size_t>(0, n);
  op.pool = test_pools[draw<std::size_t>(0, test_pools.size())];
  op.count = draw<std::int64_t>(1, 4);
  op.origin = world.replicas[op.at].writer.origin();
  world.now_ms += draw<std::int64_t>(0, 120'000);
  auto& writer = world.replicas[op.at].writer;
  const Ledger& ledger = world.replicas[op.at].ledger;
  const std::int64_t now = world.now_ms;
  Result<Records> result = Records{};
  switch (draw<int>(0, 15)) {
    case 0:
    case 1:
      op.kind = Kind::admit;
      result = admit(writer, ledger, op.pool, op.count, now);
      break;
    case 2:
      op.kind = Kind::release;
      result = release(writer, ledger, op.pool, op.count, now);
      break;
    case 3:
      op.kind = Kind::block;
      op.reason = std::string(blocked_reasons[draw<std::size_t>(0, 2)]);
      result = block(writer, ledger, op.pool, op.reason, op.count, now);
      break;
    case 4:
      op.kind = Kind::unblock;
      op.reason = std::string(blocked_reasons[draw<std::size_t>(0, 2)]);
      result = unblock(writer, ledger, op.pool, op.reason, op.count, now);
      break;
    case 5:
      op.kind = Kind::operational;
      op.value = draw<std::int64_t>(0, 150);
      result = set_operational(writer, ledger, op.pool, op.value, now);
      break;
    case 6:
      op.kind = Kind::heartbeat;
      result = Records{heartbeat(writer, now)};
      break;
    case 7:
      op.kind = Kind::create_rights;
      result = create_rights(writer, ledger, op.pool, op.count, now);
      break;
    case 8: {
      op.kind = Kind::transfer;
      const auto to = draw<std::size_t>(0, n);
      if (to == op.at) return std::nullopt;
      result = transfer_rights(writer, ledger, op.pool, world.replicas[to].writer.origin(), op.count, now);
      break;
    }
    case 9:
    case 10: {
      op.kind = Kind::reserve;
      op.id = "r" + std::to_string(reservation_ids.size());
      op.expires_at_ms = now + draw<std::int64_t>(1, 4 * 3'600'000);
      result = reserve(writer, ledger, op.pool, op.id, op.count, op.expires_at_ms, "ref", now);
      if (result) reservation_ids.push_back(op.pool + " " + op.id);
      break;
    }
    case 11: {
      if (reservation_ids.empty()) return std::nullopt;
      const auto& chosen = reservation_ids[draw<std::size_t>(0, reservation_ids.size())];
      op.pool = chosen.substr(0, chosen.find(' '));
      op.id = chosen.substr(chosen.find(' ') + 1);
      const auto which = draw<int>(0, 3);
      op.kind = which == 0 ? Kind::cancel : which == 1 ? Kind::confirm : Kind::expire;
      result = which == 0   ? cancel(writer, ledger, op.pool, op.id, now)
               : which == 1 ? confirm(writer, ledger, op.pool, op.id, now)
                            : expire(writer, ledger, op.pool, op.id, now);
      break;
    }
    case 12:
    case 13: {
      const auto from = draw<std::size_t>(0, n);
      const auto to = draw<std::size_t>(0, n);
      if (from != to) world.sync(from, to, draw<std::size_t>(1, 8));
      return std::nullopt;
    }
    default: {  // eager push or relay of some earlier record, maybe a duplicate
      if (world.produced.empty()) return std::nullopt;
      const auto& record = world.produced[draw<std::size_t>(0, world.produced.size())];
      auto applied = world.replicas[op.at].ledger.apply(record);
      PM_ASSERT(applied.ok(), applied.error().message());
      return std::nullopt;
    }
  }
  if (!world.local(op.at, std::move(result))) return std::nullopt;
  op.hlc = world.produced.back().hlc;
  return op;
}

// A history of records written by `replicas` replicas under a random schedule.
inline World random_world(std::size_t replicas, std::size_t max_steps) {
  World world(replicas);
  std::vector<std::string> ids;
  const auto steps = draw<std::size_t>(0, max_steps);
  for (std::size_t i = 0; i < steps; ++i) (void)random_step(world, ids);
  return world;
}

}  // namespace placemesh::test
