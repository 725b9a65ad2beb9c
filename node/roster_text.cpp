#include "node/roster_text.hpp"

#include <sstream>

namespace placemesh {

namespace {

// Names, titles and addresses are checked by the parser; a title may hold
// anything printable, so it is escaped as a TOML basic string.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string format_roster(const Roster& roster) {
  std::ostringstream out;
  out << "network = " << quoted(roster.network) << "\nversion = " << roster.version << "\n";
  if (!roster.revoked.empty()) {
    out << "revoked = [";
    for (std::size_t i = 0; i < roster.revoked.size(); ++i) out << (i ? ", " : "") << quoted(to_hex(roster.revoked[i]));
    out << "]\n";
  }
  for (const auto& node : roster.nodes) {
    out << "\n[[node]]\nname = " << quoted(node.name) << "\ntitle = " << quoted(node.title)
        << "\nrole = " << quoted(std::string(role_name(node.role))) << "\npublic_key = " << quoted(to_hex(node.key))
        << "\naddress = " << quoted(node.address) << "\n";
    if (!node.retired_keys.empty()) {
      out << "retired_keys = [";
      for (std::size_t i = 0; i < node.retired_keys.size(); ++i)
        out << (i ? ", " : "") << quoted(to_hex(node.retired_keys[i]));
      out << "]\n";
    }
    for (const auto& pool : node.pools) {
      const auto slash = pool.id.find('/');
      out << "\n[[node.pool]]\nunit = " << quoted(slash == std::string::npos ? pool.id : pool.id.substr(slash + 1))
          << "\ncategory = " << quoted(std::string(category_name(pool.category))) << "\ndesign = " << pool.design
          << "\n";
    }
  }
  return out.str();
}

}  // namespace placemesh
