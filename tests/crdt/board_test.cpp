#include "crdt/board.hpp"

#include <catch2/catch.hpp>

#include "world.hpp"

using namespace placemesh;
using namespace placemesh::test;

TEST_CASE("board: figures, as-of per centre and totals by category") {
  World world(2);
  auto& bruges = world.replicas[0];
  auto& merksplas = world.replicas[1];
  REQUIRE(world.local(0, admit(bruges.writer, bruges.ledger, "CIB/men", 70, start_ms)));
  REQUIRE(world.local(0, admit(bruges.writer, bruges.ledger, "CIB/women", 30, start_ms + 5)));
  REQUIRE(world.local(0, block(bruges.writer, bruges.ledger, "CIB/women", "damage", 4, start_ms + 6)));
  REQUIRE(world.local(0, create_rights(bruges.writer, bruges.ledger, "CIB/men", 3, start_ms + 7)));
  REQUIRE(world.local(0, reserve(bruges.writer, bruges.ledger, "CIB/men", "r1", 2, start_ms + 3'600'000, "", start_ms + 8)));
  REQUIRE(world.local(1, set_operational(merksplas.writer, merksplas.ledger, "CIM/men", 100, start_ms + 1)));
  world.exchange_all();

  BoardSpec spec;
  spec.centres.push_back(CentreSpec{"CIB", "Bruges", {bruges.writer.origin().key},
                                    {{"CIB/men", Category::men, 80}, {"CIB/women", Category::women, 32}}});
  spec.centres.push_back(CentreSpec{"CIM", "Merksplas", {merksplas.writer.origin().key},
                                    {{"CIM/men", Category::men, 110}}});
  spec.centres.push_back(CentreSpec{"CIV", "Vottem", {make_origin(9).key}, {{"CIV/men", Category::men, 77}}});

  const Board board = derive_board(world.replicas[1].ledger, spec, start_ms + 10);
  REQUIRE(board.centres.size() == 3);
  const auto& cib = board.centres[0];
  CHECK(cib.as_of == Hlc{start_ms + 8, 1});  // reserve wrote two records at +8
  CHECK(cib.pools[0].occupied == 70);
  CHECK(cib.pools[0].reserved == 2);
  CHECK(cib.pools[0].available == 80 - 70 - 2);
  CHECK(cib.pools[1].blocked == 4);
  CHECK(cib.pools[1].blocked_by_reason == std::map<std::string, std::int64_t>{{"damage", 4}});
  CHECK(cib.pools[1].available == 32 - 30 - 4);
  CHECK(cib.pools[1].overbooked);
  CHECK(board.centres[1].pools[0].operational == 100);
  CHECK(board.centres[1].as_of == Hlc{start_ms + 1, 0});
  CHECK_FALSE(board.centres[2].as_of.has_value());  // never heard from
  CHECK(board.centres[2].pools[0].available == 77);

  CHECK(board.totals.at(Category::men).operational == 80 + 100 + 77);
  CHECK(board.totals.at(Category::men).available == 8 + 100 + 77);
  CHECK(board.totals.at(Category::women).available == -2);
  CHECK(board.national.occupied == 100);

  // An hour later the hold has lapsed: its places are free again on the board.
  const Board later = derive_board(world.replicas[1].ledger, spec, start_ms + 3'600'000);
  CHECK(later.centres[0].pools[0].reserved == 0);
}

TEST_CASE("board: a centre's as-of counts records of every epoch of its key") {
  World world(1);
  auto& centre = world.replicas[0];
  REQUIRE(world.local(0, Records{heartbeat(centre.writer, start_ms + 50)}));
  Origin old_epoch = centre.writer.origin();
  old_epoch.epoch = 0;
  Ledger& ledger = centre.ledger;
  REQUIRE(ledger.apply(Record{old_epoch, 1, Hlc{start_ms + 90, 0}, heartbeat_key(), Heartbeat{}, {}}).ok());
  BoardSpec spec;
  spec.centres.push_back(CentreSpec{"CIV", "Vottem", {centre.writer.origin().key}, {}});
  CHECK(derive_board(ledger, spec, start_ms).centres[0].as_of == Hlc{start_ms + 90, 0});
}
