#include "crdt/version_vector.hpp"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "world.hpp"

using namespace placemesh;
using placemesh::test::make_origin;

TEST_CASE("version_vector: a contiguous run of seqs folds into the high-water mark") {
  VersionVector vv;
  const Origin a = make_origin(0);
  vv.add(a, 2);
  vv.add(a, 3);
  CHECK(vv.through(a) == 0);
  CHECK(vv.contains(a, 3));
  CHECK_FALSE(vv.contains(a, 1));
  vv.add(a, 1);
  CHECK(vv.through(a) == 3);
  CHECK(vv.origins().at(a).cloud.empty());
}

TEST_CASE("version_vector: raise absorbs the cloud below and next to it") {
  VersionVector vv;
  const Origin a = make_origin(0);
  vv.add(a, 5);
  vv.add(a, 9);
  vv.raise(a, 4);
  CHECK(vv.through(a) == 5);
  CHECK(vv.max_seq(a) == 9);
  CHECK(vv.origins().at(a).cloud == std::set<std::uint64_t>{9});
}

namespace {

VersionVector from_seqs(const std::vector<std::pair<std::uint8_t, std::uint8_t>>& seqs) {
  VersionVector vv;
  for (auto [origin, seq] : seqs) vv.add(make_origin(origin % 3), seq % 20 + 1u);
  return vv;
}

}  // namespace

TEST_CASE("version_vector: join is commutative, associative, idempotent and dominates") {
  using Seqs = std::vector<std::pair<std::uint8_t, std::uint8_t>>;
  rc::prop("lattice laws", [](const Seqs& xs, const Seqs& ys, const Seqs& zs) {
    const VersionVector a = from_seqs(xs), b = from_seqs(ys), c = from_seqs(zs);
    const VersionVector ab =
        test::check_join_laws(a, b, c, [](VersionVector& into, const VersionVector& from) { into.join(from); });
    for (const auto& [origin, seq] : xs) RC_ASSERT(ab.contains(make_origin(origin % 3), seq % 20 + 1u));
    for (const auto& [origin, seq] : ys) RC_ASSERT(ab.contains(make_origin(origin % 3), seq % 20 + 1u));
  });
}
