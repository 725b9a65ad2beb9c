#include "tests/sim/checker.hpp"

#include <sstream>

#include "crdt/board.hpp"
#include "node/replica.hpp"

namespace placemesh::sim {

Counter total(const std::map<Origin, Counter>& origins) {
  Counter sum;
  for (const auto& [origin, counter] : origins) {
    sum.p += counter.p;
    sum.n += counter.n;
  }
  return sum;
}

namespace {

std::string counter_text(const Counter& counter) {
  return "+" + std::to_string(counter.p) + "/-" + std::to_string(counter.n);
}

std::string knowledge_text(const OriginKnowledge* knowledge) {
  if (knowledge == nullptr) return "nothing";
  std::string text = "through " + std::to_string(knowledge->through);
  if (!knowledge->cloud.empty()) {
    text += " + {";
    std::size_t shown = 0;
    for (auto seq : knowledge->cloud) {
      if (shown++ == 8) {
        text += ", … " + std::to_string(knowledge->cloud.size() - 8) + " more";
        break;
      }
      text += (shown > 1 ? ", " : "") + std::to_string(seq);
    }
    text += "}";
  }
  return text;
}

std::string hlc_text(const std::optional<Hlc>& hlc, std::int64_t now_ms) {
  if (!hlc) return "never";
  return to_string(*hlc) + " (" + std::to_string(now_ms - hlc->wall_ms) + " ms ago)";
}

// What a node knows of the origins of its roster's members, current keys and
// retired ones (whose records keep counting). Knowledge of a
// revoked or removed node's origin is not compared: a node that held some of
// its records before the revocation keeps them, the others refuse them
// (what revocation keeps is for the roster to say: the hostile-member issue).
Digest member_knowledge(const Replica& replica) {
  Digest members;
  for (const auto& [origin, knowledge] : replica.digest())
    if (replica.roster().owner_of(origin.key) != nullptr) members.emplace(origin, knowledge);
  return members;
}

// The union of every node's knowledge: what the network as a whole holds.
Digest union_of(const std::vector<NodeView>& nodes) {
  VersionVector all;
  for (const auto& node : nodes)
    if (node.replica) all.join(node.replica->ledger().knowledge());
  Digest members;
  for (const auto& [origin, knowledge] : all.origins())
    for (const auto& node : nodes)
      if (node.replica && node.replica->roster().owner_of(origin.key) != nullptr) {
        members.emplace(origin, knowledge);
        break;
      }
  return members;
}

void pool_differences(std::ostringstream& out, const std::string& who, const std::string& reference,
                      const PoolFigures& mine, const PoolFigures& theirs) {
  auto field = [&](const char* name, std::int64_t a, std::int64_t b) {
    if (a != b) out << "\n  " << who << ": " << mine.pool << " " << name << " " << a << ", " << reference << " " << b;
  };
  field("operational", mine.operational, theirs.operational);
  field("occupied", mine.occupied, theirs.occupied);
  field("blocked", mine.blocked, theirs.blocked);
  field("reserved", mine.reserved, theirs.reserved);
  field("available", mine.available, theirs.available);
  if (mine.blocked_by_reason != theirs.blocked_by_reason) out << "\n  " << who << ": " << mine.pool << " blocked reasons differ";
}

}  // namespace

void OriginNames::add(const std::string& node, const Origin& origin) {
  if (names_.contains(origin)) return;
  const int epoch = ++epochs_[node];
  names_[origin] = epoch == 1 ? node : node + "~" + std::to_string(epoch);
}

std::string OriginNames::operator()(const Origin& origin) const {
  const auto found = names_.find(origin);
  return found == names_.end() ? short_name(origin) : found->second;
}

bool converged(const std::vector<NodeView>& nodes, const Oracle& oracle) {
  for (const auto& node : nodes)
    if (!node.replica) return false;
  if (nodes.empty()) return true;
  const Replica& first = *nodes.front().replica;
  for (const auto& node : nodes)
    if (node.replica->roster().version != first.roster().version) return false;
  const Digest knowledge = member_knowledge(first);
  for (const auto& node : nodes)
    if (member_knowledge(*node.replica) != knowledge) return false;
  for (const auto& [key, origins] : oracle) {
    const Counter expected = total(origins);
    for (const auto& node : nodes)
      if (node.replica->ledger().counter_total(key) != expected) return false;
  }
  const Board board = first.board();
  for (const auto& node : nodes)
    if (node.replica->board() != board) return false;
  return true;
}

std::string differences(const std::vector<NodeView>& nodes, const Oracle& oracle, const OriginNames& names) {
  std::ostringstream out;
  const NodeView* reference = nullptr;
  for (const auto& node : nodes) {
    if (!node.replica) {
      out << "\n  " << node.name << " is down";
    } else if (!reference) {
      reference = &node;
    }
  }
  if (!reference) return out.str();

  // Rosters: each node against the newest any of them runs.
  std::uint64_t newest = 0;
  for (const auto& node : nodes)
    if (node.replica) newest = std::max(newest, node.replica->roster().version);
  for (const auto& node : nodes)
    if (node.replica && node.replica->roster().version != newest)
      out << "\n  " << node.name << " runs roster version " << node.replica->roster().version << ", another node "
          << newest;

  // Knowledge: each node against the union of all of them; nodes that know
  // the same are named on one line.
  const Digest all = union_of(nodes);
  for (const auto& [origin, everyone] : all) {
    std::map<std::string, std::string> who;  // knowledge text → nodes
    for (const auto& node : nodes) {
      if (!node.replica) continue;
      const Digest mine = member_knowledge(*node.replica);
      const auto found = mine.find(origin);
      const OriginKnowledge* held = found == mine.end() ? nullptr : &found->second;
      if (held && *held == everyone) continue;
      std::string& names_here = who[knowledge_text(held)];
      names_here += (names_here.empty() ? "" : ", ") + node.name;
    }
    for (const auto& [knowledge, node_names] : who)
      out << "\n  " << node_names << " know" << (node_names.find(',') == std::string::npos ? "s " : " ")
          << names(origin) << " " << knowledge << "; all nodes together: " << knowledge_text(&everyone);
  }

  // Counters: each node against the oracle.
  for (const auto& [key, origins] : oracle) {
    const Counter expected = total(origins);
    for (const auto& node : nodes) {
      if (!node.replica) continue;
      const Counter shown = node.replica->ledger().counter_total(key);
      if (shown == expected) continue;
      out << "\n  " << node.name << " shows " << to_string(key) << " " << counter_text(shown) << ", the oracle "
          << counter_text(expected) << " (";
      bool first = true;
      for (const auto& [origin, counter] : origins) {
        const Record* record = node.replica->ledger().find(origin, key);
        const Counter held = record ? std::get<Counter>(record->value) : Counter{};
        if (held == counter) continue;
        out << (first ? "" : ", ") << names(origin) << " " << counter_text(held) << " of "
            << counter_text(counter);
        first = false;
      }
      out << ")";
    }
  }

  // Board: each node against the first node that is up, as-of and
  // last-heard included (last-heard is local and not compared, but says
  // whether the centre's records still arrive).
  const Board expected = reference->replica->board();
  const std::int64_t now = reference->replica->now_ms();
  for (const auto& node : nodes) {
    if (!node.replica || &node == reference) continue;
    const Board board = node.replica->board();
    if (board == expected) continue;
    for (std::size_t c = 0; c < board.centres.size() && c < expected.centres.size(); ++c) {
      const CentreFigures& mine = board.centres[c];
      const CentreFigures& theirs = expected.centres[c];
      if (mine.as_of != theirs.as_of) {
        out << "\n  " << node.name << ": " << mine.code << " as of " << hlc_text(mine.as_of, now) << ", "
            << reference->name << " " << hlc_text(theirs.as_of, now);
        if (const RosterNode* centre = node.replica->roster().find_node(mine.code)) {
          auto heard = [&](const Replica& replica) {
            const auto at = replica.last_heard_ms(*centre);
            return at ? std::to_string(now - *at) + " ms ago" : std::string("never");
          };
          out << "; last heard " << heard(*node.replica) << " by " << node.name << ", " << heard(*reference->replica)
              << " by " << reference->name;
        }
      }
      for (std::size_t p = 0; p < mine.pools.size() && p < theirs.pools.size(); ++p)
        if (mine.pools[p] != theirs.pools[p])
          pool_differences(out, node.name, reference->name, mine.pools[p], theirs.pools[p]);
    }
    if (board.centres.size() != expected.centres.size())
      out << "\n  " << node.name << " shows " << board.centres.size() << " centres, " << reference->name << " "
          << expected.centres.size();
  }
  return out.str();
}

}  // namespace placemesh::sim
