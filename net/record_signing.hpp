#pragma once
// Records are signed by their origin (DESIGN §3.2, §4.2): Ed25519 over
// "placemesh-record-v1\n" + the canonical encoding of the record's body
// (encode_body), so any node can forward a record it holds with its origin's
// own signature, and nobody, not even a relaying member, can change it.

#include <array>
#include <cstdint>

#include "crdt/record.hpp"
#include "net/identity.hpp"

namespace placemesh {

// Sets record.signature; the key must be the record's origin key.
void sign_record(Record& record, const SecretKey& key);
// True when the signature is the origin key's over the body.
[[nodiscard]] bool record_signature_valid(const Record& record);

// A record's identity: BLAKE2b-256 over what its signature covers and the
// signature itself. Two records with one print are the same record, so a
// print taken when a signature was checked (on another thread, say) vouches
// for that record and no other, not for one that copied its signature.
using RecordPrint = std::array<std::uint8_t, 32>;
[[nodiscard]] RecordPrint record_print(const Record& record);

}  // namespace placemesh
