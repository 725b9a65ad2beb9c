#pragma once
// Which admin key a node takes rosters from (DESIGN §4.1, node/ROSTER.md
// "Admin keys"). A node trusts one admin key at a time: at first the one its
// config names; after a signed hand-over (a roster signed by a new key that
// carries the trusted key's hand-over to it) the new one; after a recovery
// (the config names a key that neither signed the installed roster nor was
// handed it over by the key that did) the config's. A key trusted before is
// retired for good: the store remembers it, so a restored old config cannot
// bring it back.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/origin.hpp"
#include "crdt/result.hpp"

namespace placemesh {

// A roster this node may take: who signed it, and the key its (valid)
// hand-over replaces, if it carries one.
struct CheckedRoster {
  PublicKey signer{};
  std::optional<PublicKey> replaces;
};

class AdminTrust {
 public:
  explicit AdminTrust(PublicKey current, std::vector<PublicKey> retired = {});

  // Who signed `text`, when this node may take it: the trusted key, or a key
  // the trusted key handed `network` over to. A hand-over it carries must be
  // valid for its signer, whoever signed it: the [signature] table is not
  // covered by the roster's own signature, so a line added in transit must
  // not count. bad_config saying what is wrong otherwise (unsigned, a
  // retired or unknown key, a bad signature or hand-over). `network` is the
  // network the text names.
  [[nodiscard]] Result<CheckedRoster> check(std::string_view text, std::string_view network,
                                            const std::string& source) const;

  // Trust `roster.signer` from now on (after the roster is durable): the key
  // trusted until now is retired, and so is the key its hand-over replaces.
  // Returns the key that was trusted until now, if it changed.
  std::optional<PublicKey> trust(const CheckedRoster& roster);
  void retire(const PublicKey& key);

  [[nodiscard]] const PublicKey& current() const { return current_; }
  [[nodiscard]] bool retired(const PublicKey& key) const;
  [[nodiscard]] const std::vector<PublicKey>& retired_keys() const { return retired_; }

 private:
  PublicKey current_;
  std::vector<PublicKey> retired_;
};

}  // namespace placemesh
