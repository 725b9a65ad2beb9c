#include "node/roster.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "node/toml_fields.hpp"

namespace placemesh {

std::string_view role_name(NodeRole role) { return role == NodeRole::hq ? "hq" : "centre"; }

const RosterNode* Roster::find_node(std::string_view name) const {
  for (const auto& node : nodes)
    if (node.name == name) return &node;
  return nullptr;
}

const RosterNode* Roster::find_node(const PublicKey& key) const {
  for (const auto& node : nodes)
    if (node.key == key) return &node;
  return nullptr;
}

const RosterNode* Roster::owner_of(const PublicKey& key) const {
  if (const RosterNode* node = find_node(key)) return node;
  for (const auto& node : nodes)
    for (const auto& retired : node.retired_keys)
      if (retired == key) return &node;
  return nullptr;
}

bool Roster::is_retired(const PublicKey& key) const { return find_node(key) == nullptr && owner_of(key) != nullptr; }

std::optional<std::pair<const RosterNode*, const PoolSpec*>> Roster::find_pool(std::string_view id) const {
  for (const auto& node : nodes)
    for (const auto& pool : node.pools)
      if (pool.id == id) return std::pair{&node, &pool};
  return std::nullopt;
}

BoardSpec Roster::board_spec() const {
  BoardSpec spec;
  for (const auto& node : nodes) {
    if (node.role != NodeRole::centre) continue;
    // A retired key's records are the centre's own signed time too.
    std::vector<PublicKey> keys{node.key};
    keys.insert(keys.end(), node.retired_keys.begin(), node.retired_keys.end());
    spec.centres.push_back(CentreSpec{node.name, node.title, std::move(keys), node.pools});
  }
  return spec;
}

bool Roster::is_revoked(const PublicKey& key) const {
  for (const auto& revoked_key : revoked)
    if (revoked_key == key) return true;
  return false;
}

Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t bytes_max, Code code) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(code, path.string() + ": " + ec.message());
  if (size > bytes_max)
    return make_error(code, path.string() + " is " + std::to_string(size) + " bytes; the limit is " +
                                std::to_string(bytes_max));
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return make_error(code, path.string() + ": cannot read");
  return text.str();
}

namespace {

bool is_node_name(std::string_view name) {
  if (name.empty() || name.size() > limits::node_name_bytes_max) return false;
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

void read_pools(toml_fields::Fields& fields, const toml::table& table, const std::string& where,
                RosterNode& node) {
  const auto* pools = table.get("pool");
  if (pools == nullptr) return;
  const auto* array = pools->as_array();
  if (array == nullptr) {
    fields.problem(where + ".pool", "expected [[node.pool]] tables");
    return;
  }
  if (array->size() > limits::pools_per_centre_max)
    fields.problem(where + ".pool", "more than " + std::to_string(limits::pools_per_centre_max) + " pools");
  fields.each_table(*array, where + ".pool", [&](const toml::table& pool, const std::string& at) {
    fields.unknown_keys(pool, {"unit", "category", "design"}, at + ".");
    auto unit = fields.string(pool, "unit", at + ".unit", true, "a unit name such as \"men\" or \"wing-a\"");
    auto category = fields.string(pool, "category", at + ".category", true, "men, women, families or border");
    auto design = fields.integer(pool, "design", at + ".design", true, 0, limits::pool_places_max);
    PoolSpec spec;
    if (unit) {
      spec.id = node.name + "/" + *unit;
      if (!is_valid_pool_id(spec.id))
        fields.problem(at + ".unit", "\"" + *unit + "\" is not a valid unit: letters, digits, _ and -");
    }
    if (category) {
      if (auto parsed = category_from_name(*category)) spec.category = *parsed;
      else fields.problem(at + ".category", "\"" + *category + "\": expected men, women, families or border");
    }
    if (design) spec.design = *design;
    for (const auto& other : node.pools)
      if (unit && other.id == spec.id) fields.problem(at + ".unit", "\"" + *unit + "\" appears twice");
    node.pools.push_back(std::move(spec));
  });
}

}  // namespace

Result<Roster> parse_roster(std::string_view text, const std::string& source) {
  auto parsed = toml_fields::parse(text, source, Code::bad_config);
  if (!parsed) return parsed.error();
  const toml::table& root = parsed.value();
  toml_fields::Fields fields("roster " + source);
  fields.unknown_keys(root, {"network", "version", "node", "revoked", "signature"}, "");
  Roster roster;
  if (auto network = fields.string(root, "network", "network", true, "a network id such as \"be-ibz-return\"")) {
    if (network->empty() || network->size() > 64) fields.problem("network", "expected 1 to 64 characters");
    roster.network = *network;
  }
  if (auto version = fields.integer(root, "version", "version", true, 1, INT64_MAX))
    roster.version = static_cast<std::uint64_t>(*version);
  const auto* nodes = root.get("node") ? root.get("node")->as_array() : nullptr;
  if (nodes == nullptr || nodes->empty()) fields.problem("node", "expected one [[node]] table per node");
  if (nodes != nullptr && nodes->size() > limits::roster_nodes_max)
    fields.problem("node", "more than " + std::to_string(limits::roster_nodes_max) + " nodes");
  std::set<std::string> names;
  std::set<PublicKey> keys;
  if (nodes != nullptr) {
    fields.each_table(*nodes, "node", [&](const toml::table& table, const std::string& at) {
      fields.unknown_keys(table, {"name", "title", "role", "public_key", "address", "retired_keys", "pool"}, at + ".");
      RosterNode node;
      if (auto name = fields.string(table, "name", at + ".name", true, "a code such as \"CIM\"")) {
        if (!is_node_name(*name))
          fields.problem(at + ".name", "\"" + *name + "\": expected 1-16 of A-Z, 0-9, '-' or '_'");
        else if (!names.insert(*name).second)
          fields.problem(at + ".name", "\"" + *name + "\" appears twice");
        node.name = *name;
      }
      node.title = fields.string(table, "title", at + ".title", false, "a display name").value_or(node.name);
      if (auto role = fields.string(table, "role", at + ".role", true, "centre or hq")) {
        if (*role == "centre") node.role = NodeRole::centre;
        else if (*role == "hq") node.role = NodeRole::hq;
        else fields.problem(at + ".role", "\"" + *role + "\": expected centre or hq");
      }
      if (auto key = fields.string(table, "public_key", at + ".public_key", true, "64 hex digits")) {
        if (auto parsed_key = public_key_from_hex(*key)) {
          node.key = *parsed_key;
          if (!keys.insert(node.key).second) fields.problem(at + ".public_key", "the same key is listed twice");
        } else {
          fields.problem(at + ".public_key", "expected 64 hex digits (an Ed25519 public key)");
        }
      }
      node.address =
          fields.string(table, "address", at + ".address", true, "the gossip address host:port").value_or("");
      if (const auto* retired = table.get("retired_keys")) {
        const auto* array = retired->as_array();
        if (array == nullptr) fields.problem(at + ".retired_keys", "expected a list of public keys (64 hex digits each)");
        for (std::size_t index = 0; array != nullptr && index < array->size(); ++index) {
          const std::string where = at + ".retired_keys[" + std::to_string(index) + "]";
          const auto* entry = (*array)[index].as_string();
          auto key = entry ? public_key_from_hex(entry->get()) : std::nullopt;
          if (!key) fields.problem(where, "expected 64 hex digits (an Ed25519 public key)");
          else if (!keys.insert(*key).second) fields.problem(where, "the same key is listed twice");
          else node.retired_keys.push_back(*key);
        }
      }
      read_pools(fields, table, at, node);
      if (node.role == NodeRole::hq && !node.pools.empty())
        fields.problem(at + ".pool", "an hq node owns no pools");
      roster.nodes.push_back(std::move(node));
    });
  }
  // Every key a roster names, current and retired, is a member some node
  // holds epochs of: the limits that size digests count on roster_nodes_max.
  if (keys.size() > limits::roster_nodes_max)
    fields.problem("node", std::to_string(keys.size()) + " keys, current and retired; at most " +
                               std::to_string(limits::roster_nodes_max));
  if (const auto* revoked = root.get("revoked")) {
    const auto* array = revoked->as_array();
    if (array == nullptr) fields.problem("revoked", "expected a list of public keys (64 hex digits each)");
    std::size_t at = 0;
    if (array != nullptr) {
      for (const auto& element : *array) {
        const std::string where = "revoked[" + std::to_string(at++) + "]";
        const auto* entry = element.as_string();
        auto key = entry ? public_key_from_hex(entry->get()) : std::nullopt;
        if (!key) {
          fields.problem(where, "expected 64 hex digits (an Ed25519 public key)");
          continue;
        }
        if (roster.find_node(*key) != nullptr) fields.problem(where, "a revoked key is still listed as a node");
        else if (roster.owner_of(*key) != nullptr)
          fields.problem(where, "a revoked key is still listed as " + roster.owner_of(*key)->name +
                                    "'s retired key (a retired key's records count; a revoked key's do not "
                                    "belong to any node)");
        roster.revoked.push_back(*key);
      }
    }
  }
  if (auto status = fields.result(Code::bad_config); !status) return status.error();
  return roster;
}

Result<Roster> load_roster(const std::filesystem::path& path) {
  auto text = read_small_file(path, limits::roster_bytes_max, Code::bad_config);
  if (!text) return text.error();
  return parse_roster(text.value(), path.string());
}

}  // namespace placemesh
