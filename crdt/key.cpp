#include "crdt/key.hpp"

#include <algorithm>

#include "crdt/limits.hpp"
#include "crdt/names.hpp"
#include "crdt/origin.hpp"

namespace placemesh {

namespace {

constexpr std::array<std::string_view, field_max + 1> field_names = {
    "heartbeat", "occupied", "blocked", "operational", "rights", "used", "reservation"};

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_name_char);
}

// Reservation ids are chosen by callers: printable ASCII without spaces.
bool is_token(std::string_view text) {
  return !text.empty() && text.size() <= limits::key_arg_bytes_max &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7F; });
}

}  // namespace

std::string_view field_name(Field field) { return name_of(field_names, field); }

std::optional<Field> field_from_name(std::string_view name) { return from_name<Field>(field_names, name); }

std::string to_string(const Key& key) {
  std::string text(field_name(key.field));
  if (!key.pool.empty()) text += " " + key.pool;
  if (!key.arg.empty()) text += " " + key.arg;
  return text;
}

bool is_valid_pool_id(std::string_view pool) {
  if (pool.size() > limits::pool_id_bytes_max) return false;
  const auto slash = pool.find('/');
  if (slash == std::string_view::npos) return false;
  return is_name(pool.substr(0, slash)) && is_name(pool.substr(slash + 1));
}

bool is_blocked_reason(std::string_view reason) {
  return std::find(blocked_reasons.begin(), blocked_reasons.end(), reason) != blocked_reasons.end();
}

Status validate(const Key& key) {
  if (static_cast<std::uint8_t>(key.field) > field_max)
    return make_error(Code::invalid_key, "unknown field " + std::to_string(int(key.field)));
  if (key.field == Field::heartbeat) {
    if (!key.pool.empty() || !key.arg.empty())
      return make_error(Code::invalid_key, "a heartbeat key has no pool and no argument");
    return Ok{};
  }
  if (!is_valid_pool_id(key.pool))
    return make_error(Code::invalid_key,
                      "pool id '" + key.pool + "' is not of the form CENTRE/unit (letters, digits, _ -)");
  switch (key.field) {
    case Field::occupied:
    case Field::operational:
    case Field::used:
      if (!key.arg.empty())
        return make_error(Code::invalid_key, to_string(key) + ": this field takes no argument");
      return Ok{};
    case Field::blocked:
      if (!is_blocked_reason(key.arg))
        return make_error(Code::invalid_key,
                          "blocked reason '" + key.arg +
                              "' is not one of maintenance, damage, staffing, medical, other");
      return Ok{};
    case Field::rights:
      if (!origin_from_string(key.arg))
        return make_error(Code::invalid_key, "rights target '" + key.arg + "' is not an origin");
      return Ok{};
    case Field::reservation:
      if (!is_token(key.arg))
        return make_error(Code::invalid_key, "reservation id must be 1.." +
                                                 std::to_string(limits::key_arg_bytes_max) +
                                                 " printable characters without spaces");
      return Ok{};
    case Field::heartbeat:
      break;
  }
  return Ok{};
}

Key heartbeat_key() { return Key{Field::heartbeat, {}, {}}; }
Key occupied_key(std::string_view pool) { return Key{Field::occupied, std::string(pool), {}}; }
Key blocked_key(std::string_view pool, std::string_view reason) {
  return Key{Field::blocked, std::string(pool), std::string(reason)};
}
Key operational_key(std::string_view pool) { return Key{Field::operational, std::string(pool), {}}; }
Key used_key(std::string_view pool) { return Key{Field::used, std::string(pool), {}}; }
Key rights_key(std::string_view pool, const Origin& to) {
  return Key{Field::rights, std::string(pool), to_string(to)};
}
Key reservation_key(std::string_view pool, std::string_view id) {
  return Key{Field::reservation, std::string(pool), std::string(id)};
}

}  // namespace placemesh
