#include "crdt/key.hpp"

#include <catch2/catch.hpp>

#include "crdt/board.hpp"
#include "crdt/record.hpp"
#include "world.hpp"

using namespace placemesh;

TEST_CASE("key: well-formed keys of every field are accepted") {
  CHECK(validate(heartbeat_key()).ok());
  CHECK(validate(occupied_key("CIM/men")).ok());
  CHECK(validate(blocked_key("127B/wing-A", "maintenance")).ok());
  CHECK(validate(operational_key("CIB/women")).ok());
  CHECK(validate(used_key("CIB/women")).ok());
  CHECK(validate(rights_key("CIB/women", test::make_origin(3))).ok());
  CHECK(validate(reservation_key("CIV/men", "r-2026-0001")).ok());
}

TEST_CASE("key: malformed keys are rejected with the reason") {
  const auto bad_pool = validate(occupied_key("CIM"));
  REQUIRE_FALSE(bad_pool.ok());
  CHECK(bad_pool.error().code == Code::invalid_key);
  CHECK_THAT(bad_pool.error().message(), Catch::Contains("CENTRE/unit"));

  CHECK_FALSE(validate(occupied_key("CIM/men/extra")).ok());
  CHECK_FALSE(validate(occupied_key("CIM/m en")).ok());
  CHECK_FALSE(validate(Key{Field::occupied, "CIM/men", "surplus"}).ok());
  CHECK_FALSE(validate(Key{Field::heartbeat, "CIM/men", ""}).ok());
  CHECK_FALSE(validate(Key{static_cast<Field>(42), "CIM/men", ""}).ok());
  CHECK_FALSE(validate(Key{Field::rights, "CIM/men", "not-an-origin"}).ok());
  CHECK_FALSE(validate(reservation_key("CIM/men", "has space")).ok());
  CHECK_FALSE(validate(reservation_key("CIM/men", std::string(200, 'x'))).ok());

  const auto free_text = validate(blocked_key("CIM/men", "broken window in room 12"));
  REQUIRE_FALSE(free_text.ok());
  CHECK_THAT(free_text.error().message(), Catch::Contains("maintenance, damage, staffing, medical, other"));
}

TEST_CASE("key: a value of the wrong kind for its key is rejected") {
  CHECK(validate(occupied_key("CIM/men"), Value{Register{3}}).error().code == Code::invalid_value);
  CHECK(validate(operational_key("CIM/men"), Value{Counter{1, 0}}).error().code == Code::invalid_value);
  CHECK(validate(used_key("CIM/men"), Value{Counter{1, 1}}).error().code == Code::invalid_value);
}

TEST_CASE("key: origins round-trip through their text form") {
  const Origin origin = test::make_origin(5, 0xDEADBEEF01234567);
  const auto parsed = origin_from_string(to_string(origin));
  REQUIRE(parsed.has_value());
  CHECK(*parsed == origin);
  CHECK_FALSE(origin_from_string("zz").has_value());
  CHECK_FALSE(origin_from_string(to_string(origin) + "0").has_value());
}

TEST_CASE("key: every field, category and reservation state name reads back as itself") {
  for (std::uint8_t i = 0; i <= field_max; ++i) {
    const auto field = static_cast<Field>(i);
    CHECK(field_from_name(field_name(field)) == field);
  }
  for (const auto category : {Category::men, Category::women, Category::families, Category::border})
    CHECK(category_from_name(category_name(category)) == category);
  CHECK(category_name(Category::border) == "border");
  CHECK(state_name(ReservationState::confirmed) == "confirmed");
  CHECK_FALSE(field_from_name("occupied ").has_value());
  CHECK_FALSE(category_from_name("children").has_value());
}
