#include "crdt/hlc.hpp"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "crdt/limits.hpp"

using namespace placemesh;

TEST_CASE("hlc: tick follows the wall clock when it moves forward") {
  HlcClock clock;
  CHECK(clock.tick(1'000) == Hlc{1'000, 0});
  CHECK(clock.tick(2'000) == Hlc{2'000, 0});
}

TEST_CASE("hlc: tick never runs backwards when the wall clock does") {
  HlcClock clock;
  const Hlc first = clock.tick(5'000);
  const Hlc second = clock.tick(4'000);
  CHECK(second > first);
  CHECK(second == Hlc{5'000, 1});
}

TEST_CASE("hlc: a full logical counter borrows a millisecond instead of wrapping") {
  HlcClock clock(Hlc{7'000, limits::hlc_logical_max});
  CHECK(clock.tick(7'000) == Hlc{7'001, 0});
}

TEST_CASE("hlc: observing a remote time moves later ticks past it") {
  HlcClock clock;
  REQUIRE(clock.observe(Hlc{9'000, 3}, 8'000).ok());
  CHECK(clock.tick(8'000) == Hlc{9'000, 4});
}

TEST_CASE("hlc: a remote time too far ahead is refused and changes nothing") {
  HlcClock clock(Hlc{1'000, 0});
  const auto status = clock.observe(Hlc{1'000 + limits::clock_skew_max_ms + 1, 0}, 1'000);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == Code::clock_skew);
  CHECK(clock.last() == Hlc{1'000, 0});
}

TEST_CASE("hlc: ticks are strictly increasing for any sequence of wall times") {
  rc::prop("strictly increasing", [](const std::vector<std::int32_t>& walls) {
    HlcClock clock;
    Hlc previous = clock.last();
    for (std::int32_t wall : walls) {
      const Hlc next = clock.tick(wall);
      RC_ASSERT(next > previous);
      RC_ASSERT(next.wall_ms >= wall);
      previous = next;
    }
  });
}
