#pragma once
// The roster (DESIGN §4.1; format in node/ROSTER.md): the network id, a
// version, and every node with its role, Ed25519 public key, gossip address
// and, for a centre, the pools it owns with their design capacity.
//
// Plain values, parsed once and then read from the io thread. The board of a
// node is derived from the roster's centres (board_spec()).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/board.hpp"
#include "crdt/origin.hpp"
#include "crdt/result.hpp"

namespace placemesh {

enum class NodeRole : std::uint8_t { centre, hq };
[[nodiscard]] std::string_view role_name(NodeRole role);

struct RosterNode {
  std::string name;   // "CIM": the centre code for a centre
  std::string title;  // "Merksplas"
  NodeRole role = NodeRole::centre;
  PublicKey key{};
  std::string address;  // gossip "host:port"
  std::vector<PoolSpec> pools;  // ids "NAME/unit"
  // Keys this node signed with before its current one (a planned key
  // change: a disk lost too often, a key past its epochs). Their records
  // keep counting as this node's on every node, also one that never had
  // them (a new or wiped node takes them from its peers); they may not link
  // and sign nothing new that matters. A key that may be stolen is revoked
  // instead (node/ROSTER.md).
  std::vector<PublicKey> retired_keys;
};

struct Roster {
  std::string network;
  std::uint64_t version = 0;
  std::vector<RosterNode> nodes;
  std::vector<PublicKey> revoked;  // keys that must never link again

  [[nodiscard]] const RosterNode* find_node(std::string_view name) const;
  // The node whose current key this is (links, writes of its own).
  [[nodiscard]] const RosterNode* find_node(const PublicKey& key) const;
  // The node that signed with this key, now or before (retired_keys): whose
  // records they are.
  [[nodiscard]] const RosterNode* owner_of(const PublicKey& key) const;
  // The pool "CENTRE/unit" and the node that owns it, if any.
  [[nodiscard]] std::optional<std::pair<const RosterNode*, const PoolSpec*>> find_pool(std::string_view id) const;
  [[nodiscard]] BoardSpec board_spec() const;
  [[nodiscard]] bool is_revoked(const PublicKey& key) const;
  [[nodiscard]] bool is_retired(const PublicKey& key) const;
};

// Limits of a roster, checked when it is read.

// Parses roster TOML; every problem is named in one bad_config error.
[[nodiscard]] Result<Roster> parse_roster(std::string_view text, const std::string& source);
[[nodiscard]] Result<Roster> load_roster(const std::filesystem::path& path);

// Reads a whole small file (config, roster, tokens) with a size limit.
[[nodiscard]] Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t bytes_max, Code code);

}  // namespace placemesh
