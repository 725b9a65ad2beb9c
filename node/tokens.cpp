#include "crdt/limits.hpp"
#include "node/tokens.hpp"

#include <sodium.h>

#include "net/identity.hpp"
#include "node/roster.hpp"
#include "node/toml_fields.hpp"

namespace placemesh {

std::string_view token_role_name(TokenRole role) {
  switch (role) {
    case TokenRole::viewer: return "viewer";
    case TokenRole::operator_role: return "operator";
    case TokenRole::dispatcher: return "dispatcher";
    case TokenRole::admin: return "admin";
  }
  return "viewer";
}

std::string new_token() {
  PM_ASSERT(sodium_ready());
  std::array<std::uint8_t, 32> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::string text(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  text.resize(std::char_traits<char>::length(text.c_str()));
  sodium_memzero(bytes.data(), bytes.size());
  return "pm_" + text;
}

std::string hash_token(std::string_view token) {
  PM_ASSERT(sodium_ready());
  std::array<std::uint8_t, 32> hash{};
  crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     nullptr, 0);
  std::string hex(hash.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), hash.data(), hash.size());
  hex.pop_back();
  return hex;
}

Result<Tokens> Tokens::parse(std::string_view text, const std::string& source) {
  auto parsed = toml_fields::parse(text, source, Code::bad_config);
  if (!parsed) return parsed.error();
  const toml::table& root = parsed.value();
  toml_fields::Fields fields("tokens " + source);
  fields.unknown_keys(root, {"token"}, "");
  Tokens tokens;
  const auto* array = root.get("token") ? root.get("token")->as_array() : nullptr;
  if (array == nullptr) fields.problem("token", "expected [[token]] tables (none means nobody can use the API)");
  if (array != nullptr) {
    fields.each_table(*array, "token", [&](const toml::table& table, const std::string& at) {
      fields.unknown_keys(table, {"name", "role", "centre", "hash", "operations_per_minute"}, at + ".");
      Token token;
      token.name = fields.string(table, "name", at + ".name", true, "a name for the audit log").value_or("");
      if (auto role = fields.string(table, "role", at + ".role", true, "viewer, operator, dispatcher or admin")) {
        if (*role == "viewer") token.role = TokenRole::viewer;
        else if (*role == "operator") token.role = TokenRole::operator_role;
        else if (*role == "dispatcher") token.role = TokenRole::dispatcher;
        else if (*role == "admin") token.role = TokenRole::admin;
        else fields.problem(at + ".role", "\"" + *role + "\": expected viewer, operator, dispatcher or admin");
      }
      auto centre = fields.string(table, "centre", at + ".centre", false, "the centre an operator works for");
      if (token.role == TokenRole::operator_role && !centre)
        fields.problem(at + ".centre", "an operator token needs the centre it works for");
      token.centre = centre.value_or("");
      if (auto rate = fields.integer(table, "operations_per_minute", at + ".operations_per_minute", false, 1,
                                     limits::api_operations_per_minute_max))
        token.operations_per_minute = *rate;
      auto hash = fields.string(table, "hash", at + ".hash", true,
                                "64 hex digits from `placemeshctl token-hash` (never the token itself)");
      if (hash) {
        const bool hex = hash->size() == 64 &&
                         hash->find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!hex) fields.problem(at + ".hash", "expected 64 lower-case hex digits (BLAKE2b-256 of the token)");
        else if (!tokens.by_hash_.emplace(*hash, token).second) fields.problem(at + ".hash", "listed twice");
      }
    });
  }
  if (auto status = fields.result(Code::bad_config); !status) return status.error();
  return tokens;
}

Result<Tokens> Tokens::load(const std::filesystem::path& path) {
  auto text = read_small_file(path, limits::tokens_file_bytes_max, Code::bad_config);
  if (!text) return text.error();
  return parse(text.value(), path.string());
}

const Token* Tokens::find(std::string_view bearer) const {
  if (bearer.empty() || bearer.size() > 256) return nullptr;
  auto found = by_hash_.find(hash_token(bearer));
  return found == by_hash_.end() ? nullptr : &found->second;
}

}  // namespace placemesh
