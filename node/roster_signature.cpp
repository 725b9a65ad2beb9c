#include "node/roster_signature.hpp"

#include <sodium.h>

#include <vector>

namespace placemesh {

namespace {

constexpr std::string_view context = "placemesh-roster-v1\n";
constexpr std::string_view marker = "[signature]";
constexpr std::string_view handover_context = "placemesh-admin-handover-v1\n";

std::vector<std::uint8_t> handover_message(const PublicKey& to, std::string_view network) {
  std::string joined;
  joined.reserve(handover_context.size() + network.size() + 1 + to.size());
  joined.append(handover_context).append(network).append(1, '\n');
  joined.append(reinterpret_cast<const char*>(to.data()), to.size());
  return {joined.begin(), joined.end()};
}

template <std::size_t N>
std::string hex_of(const std::array<std::uint8_t, N>& bytes) {
  std::string hex(N * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  hex.pop_back();
  return hex;
}

std::vector<std::uint8_t> signed_message(std::string_view body) {
  std::string joined;
  joined.reserve(context.size() + body.size());
  joined.append(context).append(body);
  return {joined.begin(), joined.end()};
}

// Position of a line that is exactly "[signature]", or npos.
std::size_t find_marker(std::string_view text) {
  std::size_t at = 0;
  while ((at = text.find(marker, at)) != std::string_view::npos) {
    const bool line_start = at == 0 || text[at - 1] == '\n';
    const auto end = at + marker.size();
    const bool line_end = end == text.size() || text[end] == '\n' || text[end] == '\r';
    if (line_start && line_end) return at;
    at = end;
  }
  return std::string_view::npos;
}

template <std::size_t N>
bool parse_hex_value(std::string_view line, std::string_view name, std::array<std::uint8_t, N>& out) {
  // name = "hex"
  if (line.substr(0, name.size()) != name) return false;
  line.remove_prefix(name.size());
  const auto open = line.find('"');
  const auto close = line.rfind('"');
  if (open == std::string_view::npos || close <= open) return false;
  const auto hex = line.substr(open + 1, close - open - 1);
  std::size_t length = 0;
  return hex.size() == N * 2 &&
         sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &length, nullptr) == 0 && length == N;
}

}  // namespace

Result<SignedParts> split_signed_roster(std::string_view text) {
  SignedParts parts;
  const auto at = find_marker(text);
  if (at == std::string_view::npos) {
    parts.body = text;
    return parts;
  }
  parts.body = text.substr(0, at);
  bool have_key = false, have_value = false, have_from = false, have_handover = false;
  Handover handover;
  std::string_view rest = text.substr(at + marker.size());
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (parse_hex_value(line, "admin_key", parts.admin_key)) have_key = true;
    else if (parse_hex_value(line, "value", parts.signature)) have_value = true;
    else if (parse_hex_value(line, "handover_from", handover.from)) have_from = true;
    else if (parse_hex_value(line, "handover_value", handover.value)) have_handover = true;
    else return make_error(Code::malformed, "[signature]: unexpected line \"" + std::string(line) + "\"");
  }
  if (!have_key || !have_value)
    return make_error(Code::malformed, "[signature] needs admin_key (64 hex digits) and value (128 hex digits)");
  if (have_from != have_handover)
    return make_error(Code::malformed, "[signature] needs both handover_from (64 hex digits) and handover_value "
                                       "(128 hex digits), or neither");
  if (have_from) parts.handover = handover;
  parts.signed_ = true;
  return parts;
}

std::string sign_roster(std::string_view text, const SecretKey& admin, const std::optional<Handover>& handover) {
  const auto at = find_marker(text);
  std::string body(at == std::string_view::npos ? text : text.substr(0, at));
  if (!body.empty() && body.back() != '\n') body += '\n';
  const Signature signature = admin.sign(signed_message(body));
  std::string table = std::string(marker) + "\nadmin_key = \"" + to_hex(admin.public_key()) + "\"\nvalue = \"" +
                      hex_of(signature) + "\"\n";
  if (handover)
    table += "handover_from = \"" + to_hex(handover->from) + "\"\nhandover_value = \"" + hex_of(handover->value) +
             "\"\n";
  return body + table;
}

Handover sign_handover(const SecretKey& old_admin, const PublicKey& to, std::string_view network) {
  return Handover{old_admin.public_key(), old_admin.sign(handover_message(to, network))};
}

bool handover_valid(const Handover& handover, const PublicKey& to, std::string_view network) {
  return verify(handover.from, handover_message(to, network), handover.value);
}

Status verify_roster(std::string_view text, const PublicKey& admin, const std::string& source) {
  auto parts = split_signed_roster(text);
  if (!parts) return make_error(Code::bad_config, "roster " + source + ": " + parts.error().message());
  if (!parts.value().signed_)
    return make_error(Code::bad_config, "roster " + source +
                                            " is not signed; sign it with `placemeshctl roster sign --admin-key "
                                            "ADMIN.key --in ROSTER --out SIGNED`");
  if (parts.value().admin_key != admin)
    return make_error(Code::bad_config, "roster " + source + " is signed by " + to_hex(parts.value().admin_key) +
                                            ", not by this node's admin key " + to_hex(admin));
  if (!verify(admin, signed_message(parts.value().body), parts.value().signature))
    return make_error(Code::bad_config,
                      "roster " + source + ": the signature does not match its text (changed after signing?)");
  return Ok{};
}

}  // namespace placemesh
