#pragma once
// Signed rosters (DESIGN §4.1; format in node/ROSTER.md). A signed roster is
// the roster text a person wrote, followed by a last `[signature]` table with
// the admin public key and an Ed25519 signature over
//   "placemesh-roster-v1\n" + every byte before the "[signature]" line
// (the prefix keeps a roster signature from being valid for anything else).

#include <string>
#include <string_view>

#include "crdt/origin.hpp"
#include "crdt/result.hpp"
#include "net/identity.hpp"

namespace placemesh {

struct SignedParts {
  std::string_view body;       // the signed bytes
  bool signed_ = false;
  PublicKey admin_key{};
  Signature signature{};
};

// Splits off a trailing [signature] table. malformed if it is present but
// not exactly `admin_key` and `value` in hex.
[[nodiscard]] Result<SignedParts> split_signed_roster(std::string_view text);

// The roster text with any old signature replaced by one from `admin`.
[[nodiscard]] std::string sign_roster(std::string_view text, const SecretKey& admin);

// Ok when `text` carries a valid signature by `admin`; bad_config saying
// what is wrong otherwise (unsigned, another key, a bad signature).
[[nodiscard]] Status verify_roster(std::string_view text, const PublicKey& admin, const std::string& source);

}  // namespace placemesh
