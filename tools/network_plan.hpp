#pragma once
// Writing a whole network into one folder: an admin key, a key per node
// (mode 0600), the signed roster, one tokens file, one config per node, and
// network.json — the machine-readable manifest that tests, scripts and the
// demo read (docs in placemeshctl quickstart --help).
//
// Used by `placemeshctl quickstart` (the DESIGN §1 network) and by the tests
// and the benchmark (small networks on free ports).

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/result.hpp"

namespace placemesh::tools {

struct PlannedPool {
  std::string unit;
  std::string category;
  std::int64_t design = 0;
};

struct PlannedNode {
  std::string name;
  std::string title;
  std::string role;  // centre | hq
  std::vector<PlannedPool> pools;
  std::uint16_t api_port = 0;
  std::uint16_t gossip_port = 0;
  // The port peers are told to dial (the roster's address); 0: gossip_port.
  // Tests put a fault proxy there.
  std::uint16_t advertised_port = 0;
  // The address it listens on and is reached at (tests in network
  // namespaces give each node its own).
  std::string host = "127.0.0.1";
};

struct NetworkPlan {
  std::string network = "placemesh-demo";
  std::vector<PlannedNode> nodes;
};

// The six closed centres of DESIGN §1 and HQ: API on base_port + i, gossip on
// base_port + 100 + i (HQ is i = 0).
[[nodiscard]] NetworkPlan design_network(std::uint16_t base_port);

struct WrittenNode {
  std::string name;
  std::string role;
  std::filesystem::path config;
  std::filesystem::path data_dir;
  std::uint16_t api_port = 0;
  std::uint16_t gossip_port = 0;
  std::string host;
};

struct WrittenNetwork {
  std::filesystem::path dir;
  std::map<std::string, WrittenNode> nodes;
  // admin, viewer, dispatcher, and one operator token per centre under the
  // centre's name in lower case ("cim").
  std::map<std::string, std::string> tokens;
};

// The name of a centre's operator token in a written network: the centre's
// name in lower case ("CIM" → "cim").
[[nodiscard]] std::string operator_token_name(std::string_view centre);

// Writes the plan into `dir` (created; must not hold a network already).
[[nodiscard]] Result<WrittenNetwork> write_network(const NetworkPlan& plan, const std::filesystem::path& dir);

}  // namespace placemesh::tools
