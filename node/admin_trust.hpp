#pragma once
// Which admin key a node takes rosters from (DESIGN §4.1, node/ROSTER.md
// "Admin keys"). A node trusts one admin key at a time: at first the one its
// config names; after a signed hand-over (a roster signed by a new key that
// carries the trusted key's hand-over to it) the new one; after a recovery
// (the config names a key that neither signed nor was handed the installed
// roster) the config's. A key trusted before is retired for good: the store
// remembers it, so a restored old config cannot bring it back.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/origin.hpp"
#include "crdt/result.hpp"

namespace placemesh {

class AdminTrust {
 public:
  explicit AdminTrust(PublicKey current, std::vector<PublicKey> retired = {});

  // The key that signed `text` when this node may take it: the trusted key,
  // or a key the trusted key handed `network` over to. bad_config saying
  // what is wrong otherwise (unsigned, a retired or unknown key, a bad
  // signature or hand-over). `network` is the network the text names.
  [[nodiscard]] Result<PublicKey> check(std::string_view text, std::string_view network,
                                        const std::string& source) const;

  // Trust `signer` from now on (after a roster it signed is durable); the
  // key trusted until now is retired. Returns the retired key, if any.
  std::optional<PublicKey> trust(const PublicKey& signer);

  [[nodiscard]] const PublicKey& current() const { return current_; }
  [[nodiscard]] bool retired(const PublicKey& key) const;
  [[nodiscard]] const std::vector<PublicKey>& retired_keys() const { return retired_; }

 private:
  PublicKey current_;
  std::vector<PublicKey> retired_;
};

}  // namespace placemesh
