#pragma once
// API bearer tokens (DESIGN §5). The tokens file stores only a hash of each
// token (BLAKE2b-256, hex), its name (for the audit log), its role and, for
// an operator, its centre. Format in deploy/examples/tokens.toml.
//
//   viewer      reads the board and status
//   operator    also records admissions, releases, blocks, operational
//               capacity — for its own centre only
//   dispatcher  reservations (later issues); reads like a viewer
//   admin       everything
//
// Tokens are read once at start; the table is immutable afterwards. A token
// may carry its own budget of changes (operations_per_minute), counted per
// token name.

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "crdt/result.hpp"

namespace placemesh {

enum class TokenRole : std::uint8_t { viewer, operator_role, dispatcher, admin };
[[nodiscard]] std::string_view token_role_name(TokenRole role);

struct Token {
  std::string name;
  TokenRole role = TokenRole::viewer;
  std::string centre;  // operators only
  // Changes a minute for this token; 0: the node's [api] operations_per_minute.
  // A case system's token that catches up after an outage may need more.
  std::int64_t operations_per_minute = 0;
};

// "pm_" + 43 base64url characters of 32 random bytes.
[[nodiscard]] std::string new_token();
// Hex BLAKE2b-256 of the token: what the tokens file stores.
[[nodiscard]] std::string hash_token(std::string_view token);

class Tokens {
 public:
  [[nodiscard]] static Result<Tokens> parse(std::string_view text, const std::string& source);
  [[nodiscard]] static Result<Tokens> load(const std::filesystem::path& path);

  // The token a bearer string stands for, or nullptr.
  [[nodiscard]] const Token* find(std::string_view bearer) const;
  [[nodiscard]] std::size_t size() const { return by_hash_.size(); }

 private:
  std::map<std::string, Token, std::less<>> by_hash_;
};

}  // namespace placemesh
