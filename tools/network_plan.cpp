#include "tools/network_plan.hpp"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "net/identity.hpp"
#include "node/roster_signature.hpp"
#include "node/tokens.hpp"

namespace placemesh::tools {

std::string operator_token_name(std::string_view centre) {
  std::string name(centre);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

NetworkPlan design_network(std::uint16_t base_port) {
  NetworkPlan plan;
  plan.network = "placemesh-demo";
  plan.nodes = {
      {"HQ", "Brussels headquarters", "hq", {}, 0, 0, 0},
      {"CAR", "Caricole, Steenokkerzeel", "centre", {{"men", "border", 70}, {"women", "border", 30}}, 0, 0, 0},
      {"127B", "127bis, Steenokkerzeel", "centre", {{"wing-a", "men", 60}, {"wing-b", "men", 60}}, 0, 0, 0},
      {"CIB", "Bruges", "centre", {{"men", "men", 80}, {"women", "women", 32}}, 0, 0, 0},
      {"CIM", "Merksplas", "centre", {{"men", "men", 110}}, 0, 0, 0},
      {"CIV", "Vottem", "centre", {{"men", "men", 77}}, 0, 0, 0},
      {"CIH", "Holsbeek", "centre", {{"women", "women", 28}}, 0, 0, 0},
  };
  for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
    plan.nodes[i].api_port = static_cast<std::uint16_t>(base_port + i);
    plan.nodes[i].gossip_port = static_cast<std::uint16_t>(base_port + 100 + i);
  }
  return plan;
}

namespace {

Status write_text(const std::filesystem::path& path, const std::string& text, bool secret) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return make_error(Code::bad_config, "cannot write " + path.string());
  if (secret) ::chmod(path.c_str(), 0600);
  return Ok{};
}


}  // namespace

Result<WrittenNetwork> write_network(const NetworkPlan& plan, const std::filesystem::path& dir_in) {
  if (!sodium_ready()) return make_error(Code::bad_key_file, "libsodium could not initialise");
  std::error_code ec;
  const auto dir = std::filesystem::absolute(dir_in, ec);
  if (std::filesystem::exists(dir / "network.json", ec))
    return make_error(Code::bad_config, dir.string() + " already holds a network (network.json); choose another "
                                                       "folder or remove it");
  std::filesystem::create_directories(dir / "keys", ec);
  if (ec) return make_error(Code::bad_config, "cannot create " + (dir / "keys").string() + ": " + ec.message());
  ::chmod((dir / "keys").c_str(), 0700);

  WrittenNetwork written;
  written.dir = dir;
  auto admin = SecretKey::generate();
  if (!admin) return admin.error();
  if (auto status = write_key_file(dir / "keys" / "admin.key", *admin.value(), "admin key"); !status)
    return status.error();
  const std::string admin_public = to_hex(admin.value()->public_key());

  std::ostringstream roster;
  roster << "# The roster of network " << plan.network << " (node/ROSTER.md), signed with keys/admin.key.\n"
         << "network = \"" << plan.network << "\"\nversion = 1\n";
  for (const auto& node : plan.nodes) {
    auto key = SecretKey::generate();
    if (!key) return key.error();
    if (auto status = write_key_file(dir / "keys" / (node.name + ".key"), *key.value(), node.name + " node key");
        !status)
      return status.error();
    roster << "\n[[node]]\nname = \"" << node.name << "\"\ntitle = \"" << node.title << "\"\nrole = \"" << node.role
           << "\"\npublic_key = \"" << to_hex(key.value()->public_key()) << "\"\naddress = \"" << node.host << ":"
           << (node.advertised_port != 0 ? node.advertised_port : node.gossip_port) << "\"\n";
    for (const auto& pool : node.pools)
      roster << "[[node.pool]]\nunit = \"" << pool.unit << "\"\ncategory = \"" << pool.category
             << "\"\ndesign = " << pool.design << "\n";
  }
  if (auto status = write_text(dir / "roster.toml", sign_roster(roster.str(), *admin.value()), false); !status)
    return status.error();

  std::ostringstream tokens;
  tokens << "# API tokens (hashes only). The tokens themselves are in network.json (mode 0600).\n";
  auto add_token = [&](const std::string& name, const std::string& role, const std::string& centre) {
    const std::string token = new_token();
    written.tokens[name] = token;
    tokens << "\n[[token]]\nname = \"" << name << "\"\nrole = \"" << role << "\"\n";
    if (!centre.empty()) tokens << "centre = \"" << centre << "\"\n";
    tokens << "hash = \"" << hash_token(token) << "\"\n";
  };
  add_token("admin", "admin", "");
  add_token("viewer", "viewer", "");
  add_token("dispatcher", "dispatcher", "");
  for (const auto& node : plan.nodes)
    if (node.role == "centre") add_token(operator_token_name(node.name), "operator", node.name);
  if (auto status = write_text(dir / "tokens.toml", tokens.str(), false); !status) return status.error();

  nlohmann::json manifest_nodes = nlohmann::json::array();
  for (const auto& node : plan.nodes) {
    WrittenNode out{node.name, node.role, dir / (node.name + ".toml"), dir / "data" / node.name, node.api_port,
                    node.gossip_port, node.host};
    const std::string config = "# placemeshd --config " + out.config.string() +
                               "\nnode = \"" + node.name + "\"\nkey_file = \"keys/" + node.name +
                               ".key\"\nroster_file = \"roster.toml\"\nadmin_public_key = \"" + admin_public +
                               "\"\ndata_dir = \"data/" + node.name + "\"\ngossip_listen = \"" + node.host + ":" +
                               std::to_string(node.gossip_port) + "\"\napi_listen = \"" + node.host + ":" +
                               std::to_string(node.api_port) + "\"\ntokens_file = \"tokens.toml\"\n" +
                               "log_level = \"info\"\n";
    if (auto status = write_text(out.config, config, false); !status) return status.error();
    nlohmann::json entry = {{"name", node.name},
                            {"title", node.title},
                            {"role", node.role},
                            {"config", out.config.string()},
                            {"data_dir", out.data_dir.string()},
                            {"api_url", "http://" + node.host + ":" + std::to_string(node.api_port)},
                            {"gossip", node.host + ":" + std::to_string(node.gossip_port)},
                            {"admin_token", written.tokens["admin"]}};
    if (node.role == "centre") entry["operator_token"] = written.tokens[operator_token_name(node.name)];
    manifest_nodes.push_back(entry);
    written.nodes[node.name] = out;
  }
  const nlohmann::json manifest = {{"network", plan.network},
                                   {"roster", (dir / "roster.toml").string()},
                                   {"admin_key", (dir / "keys" / "admin.key").string()},
                                   {"admin_public_key", admin_public},
                                   {"tokens", written.tokens},
                                   {"nodes", manifest_nodes}};
  if (auto status = write_text(dir / "network.json", manifest.dump(2) + "\n", true); !status) return status.error();
  // The same for shell scripts (deploy/demo.sh): `. network.env`.
  std::ostringstream env;
  env << "# Written with network.json by placemeshctl quickstart: source it from a shell. Keep it private.\n"
      << "PLACEMESH_NODES=\"";
  for (std::size_t i = 0; i < plan.nodes.size(); ++i) env << (i ? " " : "") << plan.nodes[i].name;
  env << "\"\n";
  for (const auto& [name, node] : written.nodes)
    env << "PLACEMESH_API_" << name << "=http://" << node.host << ":" << node.api_port << "\nPLACEMESH_CONFIG_" << name
        << "=" << node.config.string() << "\nPLACEMESH_DATA_" << name << "=" << node.data_dir.string() << "\n";
  for (const auto& [name, token] : written.tokens) env << "PLACEMESH_TOKEN_" << name << "=" << token << "\n";
  if (auto status = write_text(dir / "network.env", env.str(), true); !status) return status.error();
  return written;
}

}  // namespace placemesh::tools
