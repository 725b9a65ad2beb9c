#pragma once
// Identity of a writer of records (DESIGN §3.1): an origin is the node's
// Ed25519 public key plus the epoch drawn when its data directory was created.
// A node that lost its disk comes back with a new epoch and so as a new
// origin; the old origin's records stay valid. Plain values, no crypto here:
// signing and verifying live in net/.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace placemesh {

inline constexpr std::size_t public_key_bytes = 32;  // crypto_sign_PUBLICKEYBYTES
inline constexpr std::size_t signature_bytes = 64;   // crypto_sign_BYTES

using PublicKey = std::array<std::uint8_t, public_key_bytes>;
using Signature = std::array<std::uint8_t, signature_bytes>;

struct Origin {
  PublicKey key{};
  std::uint64_t epoch = 0;

  friend auto operator<=>(const Origin&, const Origin&) = default;
  friend bool operator==(const Origin&, const Origin&) = default;
};

// Lower-case hex of the key, "<key hex>.<epoch hex>" for an origin.
[[nodiscard]] std::string to_hex(const PublicKey& key);
[[nodiscard]] std::string to_string(const Origin& origin);
[[nodiscard]] std::optional<PublicKey> public_key_from_hex(std::string_view hex);
[[nodiscard]] std::optional<Origin> origin_from_string(std::string_view text);
// First 8 hex digits of the key and the epoch: for logs and messages.
[[nodiscard]] std::string short_name(const Origin& origin);

}  // namespace placemesh
