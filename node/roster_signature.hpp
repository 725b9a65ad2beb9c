#pragma once
// Signed rosters (DESIGN §4.1; format in node/ROSTER.md). A signed roster is
// the roster text a person wrote, followed by a last `[signature]` table with
// the admin public key and an Ed25519 signature over
//   "placemesh-roster-v1\n" + every byte before the "[signature]" line
// (the prefix keeps a roster signature from being valid for anything else).
//
// A roster signed by a new admin key may carry the old key's hand-over to it
// (`handover_from`, `handover_value` in the same table): an Ed25519 signature
// by the old key over
//   "placemesh-admin-handover-v1\n" + network + "\n" + new key (32 bytes)
// so a node that trusts the old key learns the new one from any roster the
// new key signs, and retires the old one (node/admin_trust.hpp).

#include <optional>
#include <string>
#include <string_view>

#include "crdt/origin.hpp"
#include "crdt/result.hpp"
#include "net/identity.hpp"

namespace placemesh {

// The old admin key's word that `to` signs the rosters of a network after it.
struct Handover {
  PublicKey from{};
  Signature value{};
  friend bool operator==(const Handover&, const Handover&) = default;
};

struct SignedParts {
  std::string_view body;       // the signed bytes
  bool signed_ = false;
  PublicKey admin_key{};
  Signature signature{};
  std::optional<Handover> handover;
};

// Splits off a trailing [signature] table. malformed if it is present but
// not exactly `admin_key` and `value` in hex, with optionally both of
// `handover_from` and `handover_value`.
[[nodiscard]] Result<SignedParts> split_signed_roster(std::string_view text);

// The roster text with any old signature replaced by one from `admin`,
// carrying `handover` (which must be to `admin`) when given.
[[nodiscard]] std::string sign_roster(std::string_view text, const SecretKey& admin,
                                      const std::optional<Handover>& handover = std::nullopt);

// `old_admin` hands the rosters of `network` over to `to`.
[[nodiscard]] Handover sign_handover(const SecretKey& old_admin, const PublicKey& to, std::string_view network);
[[nodiscard]] bool handover_valid(const Handover& handover, const PublicKey& to, std::string_view network);

// Ok when `text` carries a valid signature by `admin`; bad_config saying
// what is wrong otherwise (unsigned, another key, a bad signature).
[[nodiscard]] Status verify_roster(std::string_view text, const PublicKey& admin, const std::string& source);

}  // namespace placemesh
