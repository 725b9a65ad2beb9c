// placemeshd: one node of a placemesh network (DESIGN §5).
//
// main() builds everything non-deterministic — the clock, the RNG (epoch),
// the io_context — and hands it down (STYLE 3). One io thread runs the HTTP
// API, the heartbeat timer and the replica; the store has its writer thread.
//
// Exit codes: 0 stopped cleanly, 1 could not run (store, key, port), 2 bad
// command line or configuration.

#include <sodium.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <csignal>
#include <cstdio>

#include "crdt/limits.hpp"
#include "net/identity.hpp"
#include "node/config.hpp"
#include "node/api/http_api.hpp"
#include "node/clock.hpp"
#include "node/mesh.hpp"
#include "node/node_core.hpp"
#include "node/roster.hpp"
#include "node/admin_trust.hpp"
#include "node/store.hpp"
#include "node/tokens.hpp"

namespace {

using namespace placemesh;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_config = 2;

struct Startup {
  Config config;
  Roster roster;
  std::string roster_text;  // signed, as read from roster_file
  Tokens tokens;
  std::unique_ptr<SecretKey> key;
};

// This node must be in the roster, under the key of its key file.
Status check_membership(const Roster& roster, const Config& config, const SecretKey& key, std::string_view which) {
  const RosterNode* self = roster.find_node(config.node);
  if (self == nullptr)
    return make_error(Code::bad_config, "node = \"" + config.node + "\" is not in the " + std::string(which) +
                                            " (version " + std::to_string(roster.version) + ")");
  if (self->key != key.public_key())
    return make_error(Code::bad_key_file, "key_file " + config.key_file.string() + " holds public key " +
                                              to_hex(key.public_key()) + ", but the " + std::string(which) +
                                              " lists " + to_hex(self->key) + " for " + self->name +
                                              "; use that node's key or enrol this key in a new roster");
  return Ok{};
}

// Everything that can be checked without touching the store, so that
// `--check` and a real start agree.
Result<Startup> prepare(const std::filesystem::path& config_file) {
  auto config = load_config(config_file);
  if (!config) return config.error();
  auto text = read_small_file(config.value().roster_file, limits::roster_bytes_max, Code::bad_config);
  if (!text) return text.error();
  auto roster = parse_roster(text.value(), config.value().roster_file.string());
  if (!roster) return roster.error();
  // Signed by the config's admin key, or by a key it handed over to. A node
  // that already follows a newer admin key says so when it opens its store.
  if (auto signer = AdminTrust(config.value().admin_key)
                        .check(text.value(), roster.value().network, config.value().roster_file.string());
      !signer)
    return signer.error();
  auto tokens = Tokens::load(config.value().tokens_file);
  if (!tokens) return tokens.error();
  auto key = load_key_file(config.value().key_file);
  if (!key) return key.error();
  if (auto status = check_membership(roster.value(), config.value(), *key.value(), "roster file"); !status)
    return status.error();
  if (auto status = HttpApi::check_tls(config.value()); !status) return status.error();
  return Startup{std::move(config).value(), std::move(roster).value(), std::move(text).value(),
                 std::move(tokens).value(), std::move(key).value()};
}

// What the node core tells placemeshd, passed on to the part that acts on
// it: the API's event streams, the mesh's refusal counts and timer.
class DaemonEvents final : public NodeEvents {
 public:
  Mesh* mesh = nullptr;
  HttpApi* api = nullptr;
  const NodeCore* core = nullptr;

  void changed() override {
    if (api) api->changed();
  }
  void refused(const PublicKey& peer, const std::string& reason) override {
    if (mesh) mesh->count_rejection(reason, mesh->describe(peer));
  }
  void link_lost(const PublicKey& peer, const std::string& why) override {
    if (core) spdlog::info("link down with {}: {}", core->name_of(peer), why);
  }
  void roster_installed(const Roster&) override {
    if (mesh) mesh->rearm();
  }
};

// SIGHUP: read the config file again and apply what can change while the
// node runs: a larger store.map_size_mb (and, whatever the file says, a
// full store writes again if it has room now). A config that does not load
// is logged and changes nothing.
void reload(const std::filesystem::path& config_file, const Config& running, Replica& replica) {
  auto config = load_config(config_file);
  if (!config) {
    spdlog::error("reload: {}; the node keeps its running configuration", config.error().message());
    return;
  }
  const std::size_t wanted = config.value().map_bytes, now = replica.status().store.map_bytes;
  if (wanted < now)
    spdlog::warn("reload: store.map_size_mb = {} is smaller than the map ({} MiB); a map only grows while the node "
                 "runs, and never below its file",
                 wanted >> 20, now >> 20);
  spdlog::info("reload of {}: store.map_size_mb {} MiB; other settings take effect at the next restart{}",
               config_file.string(), std::max(wanted, now) >> 20,
               config.value().node != running.node ? " (node changed: that needs a new data directory too)" : "");
  replica.grow_store(wanted);
}

int run(const std::filesystem::path& config_file, Startup startup) {
  const Config& config = startup.config;
  const PublicKey self_key = startup.key->public_key();
  std::uint64_t new_epoch = 0;
  randombytes_buf(&new_epoch, sizeof new_epoch);  // a fresh origin if the data directory is new
  auto store = Store::open(StoreOptions{config.data_dir, config.map_bytes}, self_key, new_epoch);
  if (!store) {
    spdlog::critical("{}", store.error().message());
    return exit_failed;
  }
  asio::io_context io(1);
  const std::int64_t started_ms = wall_now_ms();
  Mesh mesh(io, config, *startup.key);
  DaemonEvents events;
  std::uint64_t rng_seed = 0;
  randombytes_buf(&rng_seed, sizeof rng_seed);
  CoreSettings settings;
  settings.admin_key = config.admin_key;
  settings.roster_text = startup.roster_text;
  settings.roster_source = "roster_file " + config.roster_file.string();
  settings.data_source = config.data_dir.string();
  auto opened = NodeCore::open(std::move(store).value(), *startup.key, std::move(settings),
                               CoreSeams{wall_now_ms, steady_now_ms,
                                         [&io](std::function<void()> work) { asio::post(io, std::move(work)); },
                                         rng_seed},
                               mesh, events);
  if (!opened) {
    spdlog::critical("{}", opened.error().message());
    const Code code = opened.error().code;
    return code == Code::bad_config || code == Code::bad_key_file ? exit_config : exit_failed;
  }
  NodeCore& core = *opened.value();
  Replica& replica = core.replica();
  events.core = &core;
  if (auto status = check_membership(core.roster(), config, *startup.key, "installed roster"); !status) {
    spdlog::critical("{}", status.error().message());
    return exit_config;
  }
  const RosterNode self = *core.roster().find_node(config.node);
  const ReplicaStatus opened_status = replica.status();
  spdlog::info("node {} ({}) of network {}, roster version {}: origin {}, {} records, last seq {}", self.name,
               role_name(self.role), core.roster().network, core.roster().version, short_name(opened_status.origin),
               opened_status.records, opened_status.seq);

  if (auto status = mesh.start(core); !status) {
    spdlog::critical("{}", status.error().message());
    return exit_failed;
  }
  spdlog::info("gossip listening on {}; {} peers in the roster", config.gossip_listen.to_string(),
               replica.roster().nodes.size() - 1);
  auto api = HttpApi::start(io, config, core, startup.tokens, started_ms, &mesh);
  if (!api) {
    spdlog::critical("{}", api.error().message());
    return exit_failed;
  }
  spdlog::info("API listening on http://{} ({} tokens)", Endpoint{config.api_listen.host, api.value()->port()}.to_string(),
               startup.tokens.size());
  if (config.metrics_listen)
    spdlog::info("metrics on http://{}/metrics (no token; not on the API's address)",
                 Endpoint{config.metrics_listen->host, api.value()->metrics_port()}.to_string());
  else if (config.metrics_token)
    spdlog::info("metrics on the API's /metrics need a token ([api] metrics = \"token\")");
  events.mesh = &mesh;
  events.api = api.value().get();
  core.start();  // links, and the first heartbeat
  mesh.rearm();

  // Stop: no new operations, let every operation in flight reach the disk
  // and its caller (at most drain_deadline), then leave the loop. A second
  // signal stops at once; the store still finishes its queue on the way out.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain(io);
  constexpr auto drain_deadline = std::chrono::seconds(10);
  const auto stop_requested = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> wait_for_drain = [&] {
    if (replica.in_flight() == 0) return io.stop();
    if (std::chrono::steady_clock::now() - *stop_requested > drain_deadline) {
      spdlog::warn("{} operations still in flight after {} s; stopping anyway", replica.in_flight(),
                   drain_deadline.count());
      return io.stop();
    }
    drain.expires_after(std::chrono::milliseconds(1));
    drain.async_wait([&](std::error_code) { wait_for_drain(); });
  };
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int signal) {
    if (ec) return;
    if (*stop_requested != std::chrono::steady_clock::time_point{}) {
      spdlog::warn("signal {} again: stopping now", signal);
      return io.stop();
    }
    *stop_requested = std::chrono::steady_clock::now();
    spdlog::info("signal {}: stopping ({} operations in flight)", signal, replica.in_flight());
    core.stop();
    api.value()->close();
    mesh.stop();
    signals.async_wait(on_signal);
    wait_for_drain();
  };
  signals.async_wait(on_signal);
  asio::signal_set hangup(io, SIGHUP);
  std::function<void(std::error_code, int)> on_hangup = [&](std::error_code ec, int) {
    if (ec) return;
    reload(config_file, config, replica);
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);

  io.run();
  spdlog::info("stopped cleanly: seq {}", replica.status().seq);
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "placemeshd — one node of a placemesh network: it records its centre's admissions, releases and blocked\n"
      "places durably and serves the board of free places over HTTP.\n\n"
      "Examples:\n"
      "  placemeshd --config /etc/placemesh/node.toml\n"
      "  placemeshd --config node.toml --check      # validate the config, roster, tokens and key, then exit\n\n"
      "Signals: SIGTERM or SIGINT stops after the operations in flight are durable; SIGHUP reads the config\n"
      "again and grows the store's map to store.map_size_mb (a full store then writes again).\n\n"
      "Exit codes: 0 stopped cleanly, 1 could not run, 2 bad command line or configuration.\n"
      "Config reference: deploy/examples/node.toml",
      "placemeshd"};
  std::string config_file;
  bool check = false;
  app.add_option("-c,--config", config_file, "node configuration (TOML)")->required();
  app.add_flag("--check", check, "check the configuration and exit");
  app.set_version_flag("--version", "placemeshd 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int rc = app.exit(error);
    return rc == 0 ? exit_ok : exit_config;
  }

  // A reload (SIGHUP) before the handler is in place must not kill the
  // node while it opens its store; the handler replaces this in run().
  std::signal(SIGHUP, SIG_IGN);
  auto logger = spdlog::stderr_color_mt("placemeshd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  if (!sodium_ready()) {
    spdlog::critical("libsodium could not initialise");
    return exit_failed;
  }
  auto startup = prepare(config_file);
  if (!startup) {
    spdlog::critical("{}", startup.error().message());
    const Code code = startup.error().code;
    return code == Code::bad_config || code == Code::bad_key_file ? exit_config : exit_failed;
  }
  spdlog::set_level(spdlog::level::from_str(startup.value().config.log_level));
  if (check) {
    std::printf("%s: configuration is valid (node %s, roster version %llu)\n", config_file.c_str(),
                startup.value().config.node.c_str(),
                static_cast<unsigned long long>(startup.value().roster.version));
    return exit_ok;
  }
  return run(config_file, std::move(startup).value());
}
