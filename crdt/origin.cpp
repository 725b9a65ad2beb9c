#include "crdt/origin.hpp"

#include <charconv>

namespace placemesh {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string epoch_hex(std::uint64_t epoch) {
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, epoch >>= 4) text[static_cast<std::size_t>(i)] = hex_digits[epoch & 0xF];
  return text;
}

}  // namespace

std::string to_hex(const PublicKey& key) {
  std::string text;
  text.reserve(key.size() * 2);
  for (std::uint8_t byte : key) {
    text.push_back(hex_digits[byte >> 4]);
    text.push_back(hex_digits[byte & 0xF]);
  }
  return text;
}

std::string to_string(const Origin& origin) { return to_hex(origin.key) + "." + epoch_hex(origin.epoch); }

std::string short_name(const Origin& origin) {
  return to_hex(origin.key).substr(0, 8) + "." + epoch_hex(origin.epoch).substr(0, 8);
}

std::optional<PublicKey> public_key_from_hex(std::string_view hex) {
  PublicKey key{};
  if (hex.size() != key.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int high = hex_value(hex[2 * i]);
    const int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return key;
}

std::optional<Origin> origin_from_string(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || text.size() - dot - 1 != 16) return std::nullopt;
  auto key = public_key_from_hex(text.substr(0, dot));
  if (!key) return std::nullopt;
  std::uint64_t epoch = 0;
  const char* first = text.data() + dot + 1;
  const char* last = text.data() + text.size();
  auto [end, error] = std::from_chars(first, last, epoch, 16);
  if (error != std::errc{} || end != last) return std::nullopt;
  return Origin{*key, epoch};
}

}  // namespace placemesh
