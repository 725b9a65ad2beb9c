// placemeshctl: the administrator's and centre staff's command line for a
// placemesh node (DESIGN §5). Talks to a node's API, or reads a stopped
// node's data directory (inspect, verify), or makes keys and tokens.
//
// Exit codes (scripts rely on them): 0 ok, 1 refused by the node or a
// failed check, 2 usage error, 3 node unreachable.

#include <sodium.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <unistd.h>
#include <thread>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "crdt/limits.hpp"
#include "net/identity.hpp"
#include "node/admin_trust.hpp"
#include "node/replica.hpp"
#include "node/roster.hpp"
#include "node/roster_signature.hpp"
#include "node/store.hpp"
#include "node/tokens.hpp"
#include "tools/api_client.hpp"
#include "tools/network_plan.hpp"

namespace {

using namespace placemesh;
using nlohmann::json;

constexpr int exit_ok = 0;
constexpr int exit_refused = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;

struct Options {
  std::string api = "http://127.0.0.1:8400";
  std::string token;
  std::string ca_file;
  bool json_output = false;
  int timeout_ms = 10'000;
  // One client for the whole run, so that board --watch keeps its connection.
  mutable std::unique_ptr<tools::ApiClient> client;
};

std::string clock_time(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

std::string age(std::int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 60'000) return std::to_string(ms / 1000) + " s";
  if (ms < 3'600'000) return std::to_string(ms / 60'000) + " min";
  if (ms < 86'400'000) return std::to_string(ms / 3'600'000) + " h";
  return std::to_string(ms / 86'400'000) + " d";
}

int fail(const Error& error) {
  std::fprintf(stderr, "placemeshctl: %s\n", error.message().c_str());
  return exit_refused;
}

int usage(const std::string& message) {
  std::fprintf(stderr, "placemeshctl: %s (see placemeshctl --help)\n", message.c_str());
  return exit_usage;
}

// Sends one request and turns the answer into an exit code; `print` renders
// a successful body for people.
int call(const Options& options, std::string_view method, const std::string& target, const std::string& body,
         const std::function<void(const json&)>& print, const std::string& op_id = {}) {
  if (const std::string wrong = tools::ApiClient::check_url(options.api); !wrong.empty())
    return usage("--api \"" + options.api + "\": " + wrong);
  if (!options.client)
    options.client = std::make_unique<tools::ApiClient>(
        tools::ApiClientOptions{options.api, std::chrono::milliseconds(options.timeout_ms), options.ca_file});
  auto outcome = options.client->request(method, target, body, options.token);
  if (!outcome.response) {
    std::fprintf(stderr, "placemeshctl: cannot reach %s: %s\n", options.api.c_str(),
                 outcome.failure.message.c_str());
    if (!op_id.empty() && outcome.failure.sent)
      std::fprintf(stderr,
                   "placemeshctl: the operation may have been recorded; repeat it with --op-id %s "
                   "(it is applied once)\n",
                   op_id.c_str());
    return exit_unreachable;
  }
  const auto& response = *outcome.response;
  const json parsed = json::parse(response.body, nullptr, false);
  if (response.status / 100 != 2) {
    if (options.json_output) {
      std::printf("%s\n", response.body.c_str());
    } else if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string() &&
               parsed.contains("error") && parsed["error"].is_string()) {
      std::fprintf(stderr, "placemeshctl: refused (%d %s): %s\n", response.status,
                   parsed.value("error", std::string("error")).c_str(),
                   parsed["message"].get<std::string>().c_str());
    } else {
      std::fprintf(stderr, "placemeshctl: refused (HTTP %d): %s\n", response.status, response.body.c_str());
    }
    return exit_refused;
  }
  if (options.json_output || parsed.is_discarded()) {
    std::printf("%s\n", response.body.c_str());
    return exit_ok;
  }
  try {
    print(parsed);
  } catch (const json::exception& error) {  // a node of another version, or not a node
    std::fprintf(stderr, "placemeshctl: unexpected answer (%s); the raw answer follows\n%s\n", error.what(),
                 response.body.c_str());
    return exit_refused;
  }
  return exit_ok;
}

void print_peers(const json& status) {
  if (!status.contains("peers")) {
    std::printf("this node has no links (no mesh)\n");
    return;
  }
  std::printf("%-6s %-11s %-22s %-12s %9s %9s %7s %7s  %s\n", "PEER", "LINK", "REMOTE", "LAST CONTACT", "RECS SENT",
              "RECS RECV", "RESYNCS", "REFUSED", "BEHIND US (by origin: seqs, age of its knowledge)");
  for (const auto& peer : status.at("peers")) {
    const auto& contact = peer.at("last_contact_ms");
    std::string behind;
    for (const auto& [name, seqs] : peer.at("behind_seqs").items()) {
      const auto ms = peer.at("behind_ms").value(name, std::int64_t{0});
      behind += (behind.empty() ? "" : ", ") + name + " " + std::to_string(seqs.get<unsigned long long>()) + " (" +
                std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s)";
    }
    std::printf("%-6s %-11s %-22s %-12s %9llu %9llu %7llu %7llu  %s\n", peer.at("name").get<std::string>().c_str(),
                peer.at("state").get<std::string>().c_str(), peer.at("remote").get<std::string>().c_str(),
                contact.is_null() ? "never" : clock_time(contact.get<std::int64_t>()).substr(11).c_str(),
                peer.at("records_sent").get<unsigned long long>(), peer.at("records_received").get<unsigned long long>(),
                peer.at("full_resyncs").get<unsigned long long>(), peer.at("refused").get<unsigned long long>(),
                behind.empty() ? "-" : behind.c_str());
  }
  // A member that lost its link for misbehaving (net/PROTOCOL.md §5); an
  // older node does not say.
  for (const auto& peer : status.at("peers")) {
    const auto until = peer.find("backed_off_until_ms");
    if (until == peer.end() || until->is_null()) continue;
    std::printf("%s: backed off for misbehaving (%llu time(s)); no link with it until %s; the node's log says why\n",
                peer.at("name").get<std::string>().c_str(), peer.value("backoffs", 0ULL),
                clock_time(until->get<std::int64_t>()).c_str());
  }
  std::string refused;
  for (const auto& [reason, count] : status.at("rejections").items())
    refused += (refused.empty() ? "" : ", ") + reason + " " + std::to_string(count.get<unsigned long long>());
  std::printf("refused: %s\n", refused.empty() ? "none" : refused.c_str());
}

void print_status(const json& status) {
  const auto& store = status.at("store");
  std::printf("node        %s (%s) in network %s, roster version %llu\n", status.at("node").get<std::string>().c_str(),
              status.at("role").get<std::string>().c_str(), status.at("network").get<std::string>().c_str(),
              status.at("roster_version").get<unsigned long long>());
  std::printf("state       %s\n", status.at("state").get<std::string>().c_str());
  std::printf("admin key   %s\n", status.value("admin_key", std::string("?")).c_str());
  std::printf("origin      %s\n", status.at("origin").get<std::string>().c_str());
  std::printf("seq         %llu (%zu records)\n", status.at("seq").get<unsigned long long>(),
              status.at("records").get<std::size_t>());
  std::printf("store       %.1f MiB used of %.0f MiB map, %llu commits, %llu failed\n",
              store.at("used_bytes").get<double>() / (1 << 20), store.at("map_bytes").get<double>() / (1 << 20),
              store.at("commits").get<unsigned long long>(), store.at("failed").get<unsigned long long>());
  std::printf("operations  %llu applied, %llu replays, %llu refused; up %s\n",
              status.at("operations").get<unsigned long long>(), status.at("replays").get<unsigned long long>(),
              status.at("refusals").get<unsigned long long>(), age(status.at("uptime_ms").get<std::int64_t>()).c_str());
  if (status.contains("peers")) {
    std::printf("\n");
    print_peers(status);
  }
}

void print_board(const json& board) {
  const std::int64_t now = board.at("generated_at").get<std::int64_t>();
  std::printf("board of %s at node %s, %s\n\n", board.at("network").get<std::string>().c_str(),
              board.at("node").get<std::string>().c_str(), clock_time(now).c_str());
  std::printf("%-6s %-10s %-9s %6s %6s %6s %6s %6s %6s  %s\n", "CENTRE", "POOL", "CATEGORY", "DESIGN", "OPER",
              "OCC", "BLOCK", "RES", "FREE", "AS OF");
  for (const auto& centre : board.at("centres")) {
    std::string as_of = "never heard from";
    if (!centre.at("as_of").is_null())
      as_of = clock_time(centre.at("as_of").get<std::int64_t>()) + " (" +
              age(now - centre.at("as_of").get<std::int64_t>()) + " ago)";
    bool first = true;
    for (const auto& pool : centre.at("pools")) {
      const std::int64_t available = pool.at("available").get<std::int64_t>();
      const std::string free = available < 0 ? "OVER " + std::to_string(-available) : std::to_string(available);
      std::printf("%-6s %-10s %-9s %6lld %6lld %6lld %6lld %6lld %6s  %s\n",
                  first ? centre.at("centre").get<std::string>().c_str() : "", pool.at("pool").get<std::string>().c_str(),
                  pool.at("category").get<std::string>().c_str(), pool.at("design").get<long long>(),
                  pool.at("operational").get<long long>(), pool.at("occupied").get<long long>(),
                  pool.at("blocked").get<long long>(), pool.at("reserved").get<long long>(), free.c_str(),
                  first ? as_of.c_str() : "");
      first = false;
    }
  }
  std::printf("\n%-17s %-9s %6s %6s %6s %6s %6s %6s\n", "TOTALS", "", "DESIGN", "OPER", "OCC", "BLOCK", "RES",
              "FREE");
  for (const auto& [category, totals] : board.at("totals").items())
    std::printf("%-17s %-9s %6lld %6lld %6lld %6lld %6lld %6lld\n", "", category.c_str(),
                totals.at("design").get<long long>(), totals.at("operational").get<long long>(),
                totals.at("occupied").get<long long>(), totals.at("blocked").get<long long>(),
                totals.at("reserved").get<long long>(), totals.at("available").get<long long>());
}

void print_receipt(const json& receipt) {
  const auto& after = receipt.at("after");
  const std::string operation = receipt.at("operation").get<std::string>();
  std::string what = operation == "operational"
                         ? "set operational capacity to " + std::to_string(receipt.at("value").get<long long>())
                         : operation + " " + std::to_string(receipt.at("count").get<long long>());
  std::printf("%s at %s (op_id %s, seq %llu)\n", what.c_str(), receipt.at("pool").get<std::string>().c_str(),
              receipt.at("op_id").get<std::string>().c_str(), receipt.at("seq").get<unsigned long long>());
  const long long available = after.at("available").get<long long>();
  std::printf("now: %lld occupied, %lld blocked, %lld reserved of %lld operational: %s\n",
              after.at("occupied").get<long long>(), after.at("blocked").get<long long>(),
              after.at("reserved").get<long long>(), after.at("operational").get<long long>(),
              available < 0 ? ("OVERBOOKED by " + std::to_string(-available)).c_str()
                            : (std::to_string(available) + " free").c_str());
}

int operation(const Options& options, const std::string& kind, const std::string& pool, long long count,
              long long value, const std::string& reason, std::string op_id) {
  const auto slash = pool.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == pool.size())
    return usage("\"" + pool + "\": expected CENTRE/POOL such as CIM/men");
  if (op_id.empty()) op_id = new_op_id();  // chosen here, so a retry can repeat it
  json body = {{"op_id", op_id}};
  if (kind == "operational") body["value"] = value;
  else body["count"] = count;
  if (!reason.empty()) body["reason"] = reason;
  return call(options, "POST", "/v1/pools/" + pool + "/" + kind, body.dump(), print_receipt, op_id);
}

int inspect(const Options& options, const std::string& dir, bool audit) {
  auto store = Store::open_read_only(dir);
  if (!store) {
    std::fprintf(stderr, "placemeshctl: %s\n", store.error().message().c_str());
    return exit_refused;
  }
  auto counts = store.value()->counts();
  auto loaded = store.value()->load();
  if (!counts || !loaded) {
    std::fprintf(stderr, "placemeshctl: %s\n", (counts ? loaded.error() : counts.error()).message().c_str());
    return exit_refused;
  }
  const auto stats = store.value()->stats();
  const Origin origin = store.value()->origin();
  json origins = json::array();
  for (const auto& [other, knowledge] : loaded.value().ledger.digest())
    origins.push_back({{"origin", to_string(other)}, {"through", knowledge.through}, {"gaps", knowledge.cloud.size()}});
  json report = {{"data_dir", dir},
                 {"origin", to_string(origin)},
                 {"public_key", to_hex(origin.key)},
                 {"epoch", origin.epoch},
                 {"last_seq", loaded.value().last_seq},
                 {"last_hlc_ms", loaded.value().last_hlc.wall_ms},
                 {"records", counts.value().records},
                 {"origins", origins},
                 {"op_ids", counts.value().ops},
                 {"audit_lines", counts.value().audit},
                 {"used_bytes", stats.used_bytes},
                 {"map_bytes", stats.map_bytes}};
  if (audit) {
    auto lines = store.value()->audit_lines();
    if (!lines) {
      std::fprintf(stderr, "placemeshctl: %s\n", lines.error().message().c_str());
      return exit_refused;
    }
    json list = json::array();
    for (const auto& line : lines.value()) list.push_back(json::parse(line, nullptr, false));
    report["audit"] = list;
  }
  if (options.json_output) {
    std::printf("%s\n", report.dump(2).c_str());
    return exit_ok;
  }
  std::printf("data dir    %s\n", dir.c_str());
  std::printf("origin      %s\n", to_string(origin).c_str());
  std::printf("last seq    %llu (clock %s)\n", static_cast<unsigned long long>(loaded.value().last_seq),
              clock_time(loaded.value().last_hlc.wall_ms).c_str());
  std::printf("records     %zu from %zu origins\n", counts.value().records, origins.size());
  for (const auto& entry : origins)
    std::printf("  %s through seq %llu%s\n", entry["origin"].get<std::string>().c_str(),
                entry["through"].get<unsigned long long>(),
                entry["gaps"].get<std::size_t>() ? " (with gaps)" : "");
  std::printf("op ids      %zu remembered\n", counts.value().ops);
  std::printf("audit log   %zu lines%s\n", counts.value().audit, audit ? ":" : " (--audit prints them)");
  if (audit)
    for (const auto& line : report["audit"]) std::printf("  %s\n", line.dump().c_str());
  std::printf("store       %.1f MiB used of %.0f MiB map\n", static_cast<double>(stats.used_bytes) / (1 << 20),
              static_cast<double>(stats.map_bytes) / (1 << 20));
  return exit_ok;
}

int verify(const Options& options, const std::string& dir) {
  auto store = Store::open_read_only(dir);
  if (!store) {
    std::fprintf(stderr, "placemeshctl: %s\n", store.error().message().c_str());
    return exit_refused;
  }
  auto problems = store.value()->verify();
  if (!problems) {
    std::fprintf(stderr, "placemeshctl: %s\n", problems.error().message().c_str());
    return exit_refused;
  }
  if (options.json_output) {
    std::printf("%s\n", json{{"ok", problems.value().empty()}, {"problems", problems.value()}}.dump().c_str());
  } else if (problems.value().empty()) {
    std::printf("%s: store is consistent\n", dir.c_str());
  } else {
    for (const auto& problem : problems.value()) std::printf("problem: %s\n", problem.c_str());
    std::printf("%s: %zu problems\n", dir.c_str(), problems.value().size());
  }
  return problems.value().empty() ? exit_ok : exit_refused;
}

int keygen(const Options& options, const std::string& out, std::string_view what) {
  auto key = SecretKey::generate();
  if (!key) {
    std::fprintf(stderr, "placemeshctl: %s\n", key.error().message().c_str());
    return exit_refused;
  }
  if (auto status = write_key_file(out, *key.value(), what); !status) {
    std::fprintf(stderr, "placemeshctl: %s\n", status.error().message().c_str());
    return exit_refused;
  }
  if (options.json_output)
    std::printf("%s\n", json{{"file", out}, {"public_key", to_hex(key.value()->public_key())}}.dump().c_str());
  else
    std::printf("%s\n", to_hex(key.value()->public_key()).c_str());
  return exit_ok;
}

int roster_sign(const std::string& admin_key_file, const std::string& handover_key_file, const std::string& in,
                const std::string& out) {
  auto admin = load_key_file(admin_key_file);
  if (!admin) return fail(admin.error());
  auto text = read_small_file(in, limits::roster_bytes_max, Code::bad_config);
  if (!text) return fail(text.error());
  auto parsed = parse_roster(text.value(), in);  // never sign a roster nodes would refuse
  if (!parsed) return fail(parsed.error());
  auto parts = split_signed_roster(text.value());
  if (!parts) return fail(parts.error());
  const PublicKey signer = admin.value()->public_key();
  std::optional<Handover> handover;
  std::string handover_note;
  if (!handover_key_file.empty()) {
    auto old = load_key_file(handover_key_file);
    if (!old) return fail(old.error());
    if (old.value()->public_key() == signer) return usage("--handover-from names the key that signs: nothing to hand over");
    handover = sign_handover(*old.value(), signer, parsed.value().network);
    handover_note = ", handed over from " + to_hex(handover->from);
  } else if (parts.value().handover && handover_valid(*parts.value().handover, signer, parsed.value().network)) {
    // Re-signing keeps the hand-over to this key, so that a node still on
    // the old key can take every later roster too.
    handover = parts.value().handover;
    handover_note = ", keeping the hand-over from " + to_hex(handover->from);
  }
  const std::string signed_text = sign_roster(text.value(), *admin.value(), handover);
  std::ofstream file(out, std::ios::trunc);
  file << signed_text;
  file.close();
  if (!file) return fail(make_error(Code::bad_config, "cannot write " + out));
  std::printf("signed roster %s version %llu (%zu nodes) with admin key %s%s into %s\n",
              parsed.value().network.c_str(), static_cast<unsigned long long>(parsed.value().version),
              parsed.value().nodes.size(), to_hex(signer).c_str(), handover_note.c_str(), out.c_str());
  return exit_ok;
}

int roster_check(const Options& options, const std::string& in, const std::string& admin_public, bool show) {
  auto text = read_small_file(in, limits::roster_bytes_max, Code::bad_config);
  if (!text) return fail(text.error());
  auto parsed = parse_roster(text.value(), in);
  if (!parsed) return fail(parsed.error());
  auto parts = split_signed_roster(text.value());
  if (!parts) return fail(parts.error());
  std::string signature = "unsigned";
  bool valid = false;
  if (parts.value().signed_) {
    signature = "signed by " + to_hex(parts.value().admin_key);
    if (const auto& handover = parts.value().handover)
      signature += ", handed over from " + to_hex(handover->from) +
                   (handover_valid(*handover, parts.value().admin_key, parsed.value().network) ? ""
                                                                                              : " (INVALID hand-over)");
    if (!admin_public.empty()) {
      auto key = public_key_from_hex(admin_public);
      if (!key) return usage("--admin-public-key: expected 64 hex digits");
      // As a node that trusts that key checks it: signed by it, or by a key
      // it handed over to.
      auto signer = AdminTrust(*key).check(text.value(), parsed.value().network, in);
      valid = signer.ok();
      signature += valid ? " (valid)" : " (INVALID: " + signer.error().message() + ")";
    } else {
      // Checks the signature against the key it names: shows tampering,
      // not who may sign. Nodes check against their configured admin key.
      valid = verify_roster(text.value(), parts.value().admin_key, in).ok();
      signature += valid ? " (valid for that key; pass --admin-public-key to check the key too)" : " (INVALID)";
    }
  }
  const Roster& roster = parsed.value();
  if (options.json_output) {
    json nodes = json::array();
    for (const auto& node : roster.nodes) {
      json pools = json::array();
      for (const auto& pool : node.pools)
        pools.push_back({{"id", pool.id}, {"category", category_name(pool.category)}, {"design", pool.design}});
      json retired = json::array();
      for (const auto& key : node.retired_keys) retired.push_back(to_hex(key));
      nodes.push_back({{"name", node.name}, {"title", node.title}, {"role", role_name(node.role)},
                       {"public_key", to_hex(node.key)}, {"retired_keys", retired}, {"address", node.address},
                       {"pools", pools}});
    }
    json revoked = json::array();
    for (const auto& key : roster.revoked) revoked.push_back(to_hex(key));
    std::printf("%s\n", json{{"network", roster.network}, {"version", roster.version}, {"signed", parts.value().signed_},
                             {"valid", valid}, {"signature", signature}, {"nodes", nodes}, {"revoked", revoked}}
                             .dump(2)
                             .c_str());
  } else {
    std::printf("roster %s version %llu, %zu nodes, %s\n", roster.network.c_str(),
                static_cast<unsigned long long>(roster.version), roster.nodes.size(), signature.c_str());
    if (show) {
      std::printf("\n%-6s %-7s %-22s %-18s %s\n", "NODE", "ROLE", "ADDRESS", "KEY", "POOLS");
      for (const auto& node : roster.nodes) {
        std::string pools;
        for (const auto& pool : node.pools)
          pools += (pools.empty() ? "" : ", ") + pool.id + " " + std::string(category_name(pool.category)) + " " +
                   std::to_string(pool.design);
        std::printf("%-6s %-7s %-22s %.16s… %s\n", node.name.c_str(), std::string(role_name(node.role)).c_str(),
                    node.address.c_str(), to_hex(node.key).c_str(), pools.empty() ? "-" : pools.c_str());
      }
      // Keys that may not link: a node's earlier keys (their records count
      // as its own) and revoked ones (node/ROSTER.md).
      for (const auto& node : roster.nodes)
        for (const auto& key : node.retired_keys)
          std::printf("retired   %s (an earlier key of %s: its records count, it may not link)\n", to_hex(key).c_str(),
                      node.name.c_str());
      for (const auto& key : roster.revoked) std::printf("revoked   %s\n", to_hex(key).c_str());
    }
  }
  return valid ? exit_ok : exit_refused;
}

int quickstart(const std::string& out, int base_port) {
  auto written = tools::write_network(tools::design_network(static_cast<std::uint16_t>(base_port)), out);
  if (!written) return fail(written.error());
  const auto& network = written.value();
  std::printf("wrote a network of %zu nodes into %s:\n", network.nodes.size(), network.dir.c_str());
  std::printf("  keys/ (mode 0600), roster.toml (signed by keys/admin.key), tokens.toml, one config per node,\n"
              "  network.json and network.env (nodes, URLs and tokens: mode 0600, keep them private)\n\n"
              "start every node (or run ./deploy/demo.sh, which does all of this):\n");
  for (const auto& [name, node] : network.nodes)
    std::printf("  placemeshd --config %s &\n", node.config.c_str());
  const auto& hq = network.nodes.at("HQ");
  std::printf("\nthen, for example:\n  placemeshctl --api http://127.0.0.1:%u --token %s board\n", hq.api_port,
              network.tokens.at("viewer").c_str());
  if (network.nodes.count("CIM"))
    std::printf("  placemeshctl --api http://127.0.0.1:%u --token %s admit CIM/men\n", network.nodes.at("CIM").api_port,
                network.tokens.at("cim").c_str());
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (!sodium_ready()) {
    std::fprintf(stderr, "placemeshctl: libsodium could not initialise\n");
    return exit_refused;
  }
  CLI::App app{
      "placemeshctl — inspect and operate a placemesh node.\n\n"
      "Examples:\n"
      "  export PLACEMESH_API=http://127.0.0.1:8401 PLACEMESH_TOKEN=pm_...\n"
      "  placemeshctl status\n"
      "  placemeshctl peers                       # links, last contact, how far each peer is behind\n"
      "  placemeshctl board                       # the board as a table; --json for scripts\n"
      "  placemeshctl board --watch               # redrawn every second until Ctrl-C\n"
      "  placemeshctl admit CIM/men -n 2          # record two admissions\n"
      "  placemeshctl release CIM/men --reason removed\n"
      "  placemeshctl block CIM/men -n 4 --reason maintenance\n"
      "  placemeshctl operational CIM/men 100\n"
      "  placemeshctl inspect --data-dir /var/lib/placemesh   # a stopped node, offline\n"
      "  placemeshctl keygen --out keys/CIM.key\n"
      "  placemeshctl token new --name cim-desk --role operator --centre CIM\n"
      "  placemeshctl roster sign --admin-key keys/admin.key --in roster.toml --out roster.signed\n"
      "  placemeshctl quickstart --out demo --base-port 8400   # a whole demo network on loopback\n\n"
      "Exit codes: 0 ok, 1 refused by the node (or a failed check), 2 usage error, 3 node unreachable.",
      "placemeshctl"};
  app.require_subcommand(1);
  Options options;
  app.add_option("--api", options.api, "the node's API URL")->envname("PLACEMESH_API")->capture_default_str();
  app.add_option("--token", options.token, "bearer token")->envname("PLACEMESH_TOKEN");
  app.add_option("--cacert", options.ca_file,
                 "trust the node's HTTPS certificate if this PEM file (a CA or the certificate itself) signed it; "
                 "default: the system's CAs")
      ->envname("PLACEMESH_CACERT")
      ->check(CLI::ExistingFile);
  app.add_flag("--json", options.json_output, "print the node's JSON instead of tables");
  app.fallthrough();  // global options also after the command: placemeshctl board --json
  app.add_option("--timeout-ms", options.timeout_ms, "give up on the node after this long")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  app.set_version_flag("--version", "placemeshctl 0.1.0");

  int rc = exit_ok;
  auto* status = app.add_subcommand("status", "the node's identity, sequence, store and state");
  status->callback([&] { rc = call(options, "GET", "/v1/status", "", print_status); });
  auto* peers = app.add_subcommand("peers", "the node's links: state, last contact, traffic, how far each peer is behind");
  peers->callback([&] { rc = call(options, "GET", "/v1/status", "", print_peers); });
  auto* metrics = app.add_subcommand("metrics", "the node's Prometheus metrics (GET /metrics), as text");
  metrics->callback([&] { rc = call(options, "GET", "/metrics", "", [](const json&) {}); });
  auto* whoami = app.add_subcommand("whoami", "which token this is (name, role, centre) and which node answers");
  whoami->callback([&] {
    rc = call(options, "GET", "/v1/session", "", [](const json& session) {
      std::printf("token %s, role %s%s, at node %s (%s)\n", session.at("token").get<std::string>().c_str(),
                  session.at("role").get<std::string>().c_str(),
                  session.at("centre").get<std::string>().empty()
                      ? ""
                      : (" for centre " + session.at("centre").get<std::string>()).c_str(),
                  session.at("node").get<std::string>().c_str(), session.at("node_role").get<std::string>().c_str());
    });
  });
  auto* board = app.add_subcommand("board", "free places of every centre and pool, with as-of times");
  static bool watch = false;
  static double every_s = 1;
  board->add_flag("-w,--watch", watch, "redraw every --every seconds until Ctrl-C (the node unreachable: says so, retries)");
  board->add_option("--every", every_s, "seconds between redraws with --watch")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  board->footer("Examples:\n  placemeshctl board\n  placemeshctl board --watch --every 2\n  placemeshctl board --json");
  board->callback([&] {
    if (!watch) {
      rc = call(options, "GET", "/v1/board", "", print_board);
      return;
    }
    const bool terminal = ::isatty(STDOUT_FILENO) != 0;
    for (;;) {
      if (terminal) std::printf("\033[H\033[2J");  // home, clear
      rc = call(options, "GET", "/v1/board", "", print_board);
      if (rc == exit_refused || rc == exit_usage) return;  // a bad token or URL will not get better
      if (!terminal) std::printf("\n");
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::duration<double>(every_s));
    }
  });

  struct OperationArgs {
    std::string pool, reason, op_id;
    long long count = 1, value = 0;
  };
  static OperationArgs args;
  auto add_operation = [&](const std::string& kind, const std::string& help, bool reason, bool reason_required) {
    auto* command = app.add_subcommand(kind, help);
    command->add_option("pool", args.pool, "CENTRE/POOL, such as CIM/men")->required();
    if (kind == "operational") {
      command->add_option("value", args.value, "usable places")->required()->check(CLI::Range(0LL, 100'000LL));
    } else {
      command->add_option("-n,--count", args.count, "how many places")->capture_default_str();
    }
    if (reason) {
      auto* option = command->add_option("--reason", args.reason,
                                         kind == "release" ? "why (removed, transferred, released, ...)"
                                                           : "maintenance, damage, staffing, medical or other");
      if (reason_required) option->required();
    }
    command->add_option("--op-id", args.op_id, "operation id; repeat one to retry safely (default: a new one)");
    command->callback([&, kind] { rc = operation(options, kind, args.pool, args.count, args.value, args.reason, args.op_id); });
  };
  add_operation("admit", "record admissions (always recorded, even past capacity)", false, false);
  add_operation("release", "record releases", true, true);
  add_operation("block", "take places out of service", true, true);
  add_operation("unblock", "return blocked places to service", true, true);
  add_operation("operational", "set the usable places of a pool", false, false);

  std::string data_dir;
  bool audit = false;
  auto* inspect_command = app.add_subcommand("inspect", "read a stopped node's data directory (offline)");
  inspect_command->add_option("--data-dir", data_dir, "the node's data_dir")->required();
  inspect_command->add_flag("--audit", audit, "also print the local audit log");
  inspect_command->callback([&] { rc = inspect(options, data_dir, audit); });
  auto* verify_command = app.add_subcommand("verify", "check a stopped node's store for damage (offline)");
  verify_command->add_option("--data-dir", data_dir, "the node's data_dir")->required();
  verify_command->callback([&] { rc = verify(options, data_dir); });

  std::string out;
  auto* keygen_command = app.add_subcommand("keygen", "make a node key (mode 0600) and print its public key");
  keygen_command->add_option("--out", out, "key file to create")->required();
  keygen_command->callback([&] { rc = keygen(options, out, "node key"); });
  auto* admin_keygen = app.add_subcommand("admin-keygen", "make the admin key that signs rosters");
  admin_keygen->add_option("--out", out, "key file to create")->required();
  admin_keygen->callback([&] { rc = keygen(options, out, "admin key"); });

  auto* token = app.add_subcommand("token", "API tokens");
  token->require_subcommand(1);
  std::string token_name, token_role, token_centre, token_value;
  auto* token_new = token->add_subcommand("new", "make a token; prints it once and the line for the tokens file");
  token_new->add_option("--name", token_name, "name in the audit log")->required();
  token_new->add_option("--role", token_role, "viewer, operator, dispatcher or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator", "dispatcher", "admin"}));
  token_new->add_option("--centre", token_centre, "the centre of an operator");
  std::int64_t token_rate = 0;
  token_new->add_option("--operations-per-minute", token_rate,
                        "its own budget of changes a minute (default: the node's [api] operations_per_minute)")
      ->check(CLI::Range(std::int64_t{1}, limits::api_operations_per_minute_max));
  token_new->callback([&] {
    if (token_role == "operator" && token_centre.empty()) {
      rc = usage("an operator token needs --centre");
      return;
    }
    const std::string secret = new_token();
    std::printf("token: %s\n\n# add to the node's tokens file:\n[[token]]\nname = \"%s\"\nrole = \"%s\"\n",
                secret.c_str(), token_name.c_str(), token_role.c_str());
    if (!token_centre.empty()) std::printf("centre = \"%s\"\n", token_centre.c_str());
    if (token_rate > 0) std::printf("operations_per_minute = %lld\n", static_cast<long long>(token_rate));
    std::printf("hash = \"%s\"\n", hash_token(secret).c_str());
  });
  auto* token_hash = token->add_subcommand("hash", "print the hash of a token for the tokens file");
  token_hash->add_option("token", token_value, "the token")->required();
  token_hash->callback([&] { std::printf("%s\n", hash_token(token_value).c_str()); });

  auto* roster = app.add_subcommand("roster", "sign, verify and show rosters (node/ROSTER.md)");
  roster->require_subcommand(1);
  std::string roster_in, roster_out, admin_key_file, admin_public, handover_key_file;
  auto* roster_sign_command = roster->add_subcommand("sign", "sign a roster with the admin key");
  roster_sign_command->add_option("--admin-key", admin_key_file, "admin key file (placemeshctl admin-keygen)")
      ->required();
  roster_sign_command->add_option("--in", roster_in, "roster TOML")->required();
  roster_sign_command->add_option("--out", roster_out, "signed roster to write")->required();
  roster_sign_command->add_option("--handover-from", handover_key_file,
                                  "the admin key nodes trust now: it hands them over to --admin-key (docs/deploy.md "
                                  "§5); re-signing with the new key later keeps the hand-over");
  roster_sign_command->callback([&] { rc = roster_sign(admin_key_file, handover_key_file, roster_in, roster_out); });
  auto* roster_verify_command = roster->add_subcommand("verify", "check a roster's signature (exit 1 if invalid)");
  roster_verify_command->add_option("--in", roster_in, "signed roster")->required();
  roster_verify_command->add_option("--admin-public-key", admin_public, "the admin public key nodes are given");
  roster_verify_command->callback([&] { rc = roster_check(options, roster_in, admin_public, false); });
  auto* roster_show_command = roster->add_subcommand("show", "list a roster's nodes and pools, and its signature");
  roster_show_command->add_option("--in", roster_in, "roster")->required();
  roster_show_command->add_option("--admin-public-key", admin_public, "the admin public key nodes are given");
  roster_show_command->callback([&] {
    rc = roster_check(options, roster_in, admin_public, true);
    if (rc == exit_refused && !admin_public.empty()) return;
    rc = exit_ok;  // showing an unsigned roster is not a failure
  });

  auto* roster_push_command =
      roster->add_subcommand("push", "hand a newer signed roster to a node (admin token); it passes it on to the mesh");
  roster_push_command->add_option("--in", roster_in, "signed roster")->required();
  roster_push_command->callback([&] {
    auto text = read_small_file(roster_in, limits::roster_bytes_max, Code::bad_config);
    if (!text) {
      rc = fail(text.error());
      return;
    }
    rc = call(options, "POST", "/v1/roster", text.value(), [](const json& answer) {
      std::printf("%s (roster version %llu)\n", answer.at("message").get<std::string>().c_str(),
                  answer.at("version").get<unsigned long long>());
    });
  });

  std::string quickstart_out;
  int base_port = 8400;
  auto* quickstart_command = app.add_subcommand(
      "quickstart",
      "write a whole demo network on loopback: admin key, keys for six centres and HQ, the signed roster with the\n"
      "pools of DESIGN §1, one config per node, tokens, and network.json (each node's name, role, config, data\n"
      "directory, API URL, gossip address and tokens), for scripts and tests");
  quickstart_command->add_option("--out", quickstart_out, "folder to create")->required();
  quickstart_command->add_option("--base-port", base_port, "API ports from here, gossip ports from here + 100")
      ->check(CLI::Range(1024, 65000))
      ->capture_default_str();
  quickstart_command->callback([&] { rc = quickstart(quickstart_out, base_port); });

  // Every command's --help ends with examples.
  const std::map<std::string, std::string, std::less<>> examples = {
      {"status", "placemeshctl status\n  placemeshctl --json status | jq .store"},
      {"peers", "placemeshctl peers\n  placemeshctl --json peers | jq '.peers[] | {name, state, behind_seqs}'"},
      {"admit", "placemeshctl admit CIM/men\n  placemeshctl admit CIM/men -n 3 --op-id intake-2026-11-23-07"},
      {"release", "placemeshctl release CIM/men --reason removed\n  placemeshctl release CIM/men -n 2 --reason transferred"},
      {"block", "placemeshctl block CIM/men -n 4 --reason maintenance"},
      {"unblock", "placemeshctl unblock CIM/men -n 4 --reason maintenance"},
      {"operational", "placemeshctl operational CIM/men 100"},
      {"inspect", "placemeshctl inspect --data-dir /var/lib/placemesh/data\n  placemeshctl inspect --data-dir data/CIM --audit"},
      {"verify", "placemeshctl verify --data-dir /var/lib/placemesh/data"},
      {"keygen", "placemeshctl keygen --out keys/CIM.key"},
      {"admin-keygen", "placemeshctl admin-keygen --out admin.key   # keep it offline"},
      {"token", "placemeshctl token new --name cim-desk --role operator --centre CIM\n  placemeshctl token hash pm_..."},
      {"roster", "placemeshctl roster sign --admin-key admin.key --in roster.toml --out roster.toml\n"
                 "  placemeshctl roster verify --in roster.toml --admin-public-key HEX\n"
                 "  placemeshctl roster show --in roster.toml\n"
                 "  placemeshctl roster push --in roster.toml   # admin token"},
      {"quickstart", "placemeshctl quickstart --out demo\n  placemeshctl quickstart --out demo --base-port 9400"},
      {"whoami", "placemeshctl whoami"},
      {"metrics", "placemeshctl metrics | grep placemesh_peer_behind"},
  };
  for (auto* command : app.get_subcommands({}))
    if (auto found = examples.find(command->get_name()); found != examples.end() && command->get_footer().empty())
      command->footer("Examples:\n  " + found->second);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? exit_ok : exit_usage;
  }
  return rc;
}
