#include "node/node_core.hpp"

#include <spdlog/spdlog.h>

#include "node/roster_signature.hpp"

namespace placemesh {

namespace {

struct Chosen {
  Roster roster;
  std::string text;
  AdminTrust trust;
};

// Writes `text` as the installed roster, with the retired admin keys when
// they changed, in one commit.
Status install(Store& store, const std::string& text, const AdminTrust& trust, const std::vector<PublicKey>& before) {
  Batch batch;
  batch.roster = text;
  if (trust.retired_keys() != before) batch.retired_admin_keys = trust.retired_keys();
  return store.write(std::move(batch));
}

Status same_network(const Roster& file, const Roster& installed, const CoreSettings& settings) {
  if (installed.network == file.network) return Ok{};
  return make_error(Code::bad_config, settings.roster_source + " is for network \"" + file.network + "\" but " +
                                          settings.data_source + " belongs to network \"" + installed.network + "\"");
}

// The config names an admin key that neither signed the installed roster nor
// was handed it over by the key that did, and that this node never trusted:
// the administrator replaced a lost or stolen admin key (docs/deploy.md §5). The roster file,
// signed by the new key, is taken whatever its version; the key that signed
// the installed roster is retired.
Result<Chosen> recover(Store& store, const CoreSettings& settings, Roster file, const Roster& installed,
                       AdminTrust trust) {
  const std::vector<PublicKey> before = trust.retired_keys();
  const PublicKey old = trust.current();
  trust.trust(CheckedRoster{settings.admin_key, std::nullopt});
  auto signer = trust.check(settings.roster_text, file.network, settings.roster_source);
  if (!signer) return signer.error();
  trust.trust(signer.value());
  spdlog::warn("the admin key changed: the installed roster (version {}) was signed by {}, the config names {}; "
               "installing {} (version {}), signed by the new key. Rosters signed by the old key are refused "
               "from now on",
               installed.version, to_hex(old), to_hex(settings.admin_key), settings.roster_source, file.version);
  if (auto status = install(store, settings.roster_text, trust, before); !status) return status.error();
  return Chosen{std::move(file), settings.roster_text, std::move(trust)};
}

// The given roster if it is newer than the one the store accepted before
// (installed now), the installed one otherwise: a node never goes back to an
// older roster. The admin key it trusts is the one that signed the installed
// roster (node/admin_trust.hpp): the config's key only at first start, after
// a recovery, or when a roster file hands the trusted key over to it.
Result<Chosen> choose_roster(Store& store, const CoreSettings& settings) {
  auto given = parse_roster(settings.roster_text, settings.roster_source);
  if (!given) return given.error();
  const Roster& file = given.value();
  auto retired = store.retired_admin_keys();
  if (!retired) return retired.error();
  auto installed_text = store.installed_roster();
  if (!installed_text) return installed_text.error();
  if (!installed_text.value()) {
    AdminTrust trust(settings.admin_key, retired.value());
    auto checked = trust.check(settings.roster_text, file.network, settings.roster_source);
    if (!checked) return checked.error();
    trust.trust(checked.value());
    spdlog::info("installing roster version {}", file.version);
    if (auto status = install(store, settings.roster_text, trust, retired.value()); !status) return status.error();
    return Chosen{std::move(given).value(), settings.roster_text, std::move(trust)};
  }
  const std::string& installed_signed = *installed_text.value();
  const std::string source = settings.data_source + " (installed roster)";
  auto installed = parse_roster(installed_signed, source);
  if (!installed) return installed.error();
  if (auto status = same_network(file, installed.value(), settings); !status) return status.error();
  auto parts = split_signed_roster(installed_signed);
  if (!parts) return make_error(Code::bad_config, source + ": " + parts.error().message());
  const PublicKey installed_signer = parts.value().admin_key;
  AdminTrust trust(installed_signer, retired.value());
  // It was checked when it was installed; checked again (signature and
  // hand-over) for a store changed since.
  auto installed_check = trust.check(installed_signed, installed.value().network, source);
  if (!installed_check) return installed_check.error();
  trust.trust(installed_check.value());  // retires the key its hand-over replaces
  const bool handed_over = installed_check.value().replaces == settings.admin_key;
  if (settings.admin_key != installed_signer) {
    if (!trust.retired(settings.admin_key) && !handed_over)
      return recover(store, settings, std::move(given).value(), installed.value(), std::move(trust));
    spdlog::warn("the config names admin key {}, which this node no longer trusts: it was replaced by {} (by a "
                 "signed hand-over or a recovery); set admin_public_key to the key this node trusts",
                 to_hex(settings.admin_key), to_hex(installed_signer));
  }
  auto signer = trust.check(settings.roster_text, file.network, settings.roster_source);
  if (!signer) {
    if (settings.admin_key == installed_signer) return signer.error();
    spdlog::warn("roster {} is not signed by the trusted admin key ({}): using the installed version {}",
                 settings.roster_source, signer.error().message(), installed.value().version);
    return Chosen{std::move(installed).value(), installed_signed, std::move(trust)};
  }
  if (file.version < installed.value().version) {
    spdlog::warn("roster {} has version {}, older than the installed version {}: using version {}",
                 settings.roster_source, file.version, installed.value().version, installed.value().version);
    return Chosen{std::move(installed).value(), installed_signed, std::move(trust)};
  }
  if (file.version == installed.value().version) {
    if (installed_signed != settings.roster_text)
      spdlog::warn("roster {} differs from the installed roster of the same version {}: using the installed one; "
                   "sign changes with a higher version",
                   settings.roster_source, file.version);
    return Chosen{std::move(installed).value(), installed_signed, std::move(trust)};
  }
  spdlog::info("installing roster version {} (was version {})", file.version, installed.value().version);
  trust.trust(signer.value());
  if (auto status = install(store, settings.roster_text, trust, retired.value()); !status) return status.error();
  return Chosen{std::move(given).value(), settings.roster_text, std::move(trust)};
}

}  // namespace

NodeCore::NodeCore(const SecretKey& key, CoreSettings settings, CoreSeams seams, GossipTransport&, NodeEvents& events)
    : self_(key.public_key()), settings_(std::move(settings)), seams_(std::move(seams)), events_(events) {}

NodeCore::~NodeCore() {
  gossip_.reset();  // it refers to the replica
  replica_.reset();
}

Result<std::unique_ptr<NodeCore>> NodeCore::open(std::unique_ptr<Store> store, const SecretKey& key,
                                                 CoreSettings settings, CoreSeams seams, GossipTransport& transport,
                                                 NodeEvents& events) {
  auto chosen = choose_roster(*store, settings);
  if (!chosen) return chosen.error();
  const RosterNode* self = chosen.value().roster.find_node(key.public_key());
  if (self == nullptr)
    return make_error(Code::bad_key_file, "the installed roster (version " +
                                              std::to_string(chosen.value().roster.version) +
                                              ") does not list this node's key " + to_hex(key.public_key()) +
                                              ": it was removed or revoked; enrol the key in a new roster");
  auto loaded = store->load();
  if (!loaded)
    return make_error(loaded.error().code, "reading the store in " + settings.data_source + ": " +
                                               loaded.error().message());
  std::unique_ptr<NodeCore> core(new NodeCore(key, std::move(settings), std::move(seams), transport, events));
  core->trust_ = std::make_unique<AdminTrust>(std::move(chosen.value().trust));
  core->replica_ = std::make_unique<Replica>(std::move(chosen.value().roster), std::move(chosen.value().text), key,
                                             std::move(store), std::move(loaded).value(), core->seams_.wall_ms,
                                             core->seams_.post, static_cast<ReplicaEvents&>(*core));
  GossipSettings gossip{key.public_key()};
  gossip.sync_interval_ms = core->settings_.sync_interval_ms;
  gossip.silence_max_ms = core->settings_.silence_max_ms;
  core->gossip_ =
      std::make_unique<Gossip>(gossip, *core->replica_, transport, static_cast<GossipEvents&>(*core),
                               core->seams_.steady_ms, core->seams_.rng_seed);
  return core;
}

std::vector<PublicKey> NodeCore::peers() const {
  std::vector<PublicKey> keys;
  for (const auto& node : roster().nodes)
    if (node.key != self_ && (settings_.links_only.empty() || settings_.links_only.contains(node.key)))
      keys.push_back(node.key);
  return keys;
}

void NodeCore::start() {
  if (started_) return;
  started_ = true;
  gossip_->set_peers(peers());
  if (heartbeats_on_) next_heartbeat_ms_ = seams_.steady_ms();
  tick();
}

void NodeCore::stop() {
  if (stopped_) return;
  stopped_ = true;
  replica_->stop();
  next_heartbeat_ms_.reset();
}

void NodeCore::heartbeats(bool on) {
  heartbeats_on_ = on;
  if (!on) next_heartbeat_ms_.reset();
  else if (started_ && !stopped_ && !next_heartbeat_ms_) next_heartbeat_ms_ = seams_.steady_ms();
}

void NodeCore::tick() {
  if (!started_) return;
  gossip_->tick();
  const std::int64_t now = seams_.steady_ms();
  if (next_heartbeat_ms_ && *next_heartbeat_ms_ <= now) {
    replica_->heartbeat();
    // The next one an interval after this one; after a stall, one interval
    // from now (no burst of missed beats).
    *next_heartbeat_ms_ = std::max(*next_heartbeat_ms_ + settings_.heartbeat_interval_ms, now + 1);
  }
}

std::int64_t NodeCore::next_wakeup_ms() const {
  const std::int64_t gossip = gossip_->next_wakeup_ms();
  return next_heartbeat_ms_ ? std::min(gossip, *next_heartbeat_ms_) : gossip;
}

Result<bool> NodeCore::install_roster(const std::string& text) {
  auto installed = replica_->install_roster(text, *trust_);
  if (!installed || !installed.value()) return installed;
  if (started_ && !stopped_) {
    gossip_->set_peers(peers());  // closes links to removed nodes, dials new ones
    gossip_->roster_changed();    // offers it to every linked peer
  }
  events_.roster_installed(roster());
  return true;
}

net::KeyStatus NodeCore::key_status(const PublicKey& peer) const {
  if (peer == self_) return net::KeyStatus::unknown;  // a node does not link to itself
  if (roster().find_node(peer) != nullptr) return net::KeyStatus::member;
  // A retired key may not link: refused (and counted) as a revoked one is.
  return roster().is_revoked(peer) || roster().is_retired(peer) ? net::KeyStatus::revoked : net::KeyStatus::unknown;
}

std::string NodeCore::name_of(const PublicKey& key) const {
  const RosterNode* node = roster().owner_of(key);
  return node ? node->name : short_name(Origin{key, 0});
}

void NodeCore::changed() { events_.changed(); }

void NodeCore::committed(const std::vector<Record>& records) {
  if (!stopped_) gossip_->committed(records);  // eager push: only what is durable leaves the node
}

void NodeCore::refused(const PublicKey& peer, const std::string& reason) { events_.refused(peer, reason); }

void NodeCore::roster_offered(const PublicKey& peer, const std::string& text) {
  auto installed = install_roster(text);
  if (installed) return;
  spdlog::warn("a roster offered by {} was refused: {}", name_of(peer), installed.error().message());
  events_.refused(peer, "bad_roster");
  // An honest member offers only a roster it installed; our own store
  // failing to write it is not the peer's doing, nor is a signed roster too
  // far ahead of ours (the peer installed it while we were away).
  const Code code = installed.error().code;
  if (code != Code::store_full && code != Code::store_failed && code != Code::roster_too_far_ahead)
    gossip_->misbehaved(peer, "bad_roster");
}

void NodeCore::link_lost(const PublicKey& peer, const std::string& why) {
  if (!stopped_) events_.link_lost(peer, why);
}

}  // namespace placemesh
