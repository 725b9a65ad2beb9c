#include "node/admin_trust.hpp"

#include <algorithm>

#include "node/roster_signature.hpp"

namespace placemesh {

AdminTrust::AdminTrust(PublicKey current, std::vector<PublicKey> retired)
    : current_(current), retired_(std::move(retired)) {}

Result<PublicKey> AdminTrust::check(std::string_view text, std::string_view network,
                                    const std::string& source) const {
  auto parts = split_signed_roster(text);
  if (!parts) return make_error(Code::bad_config, "roster " + source + ": " + parts.error().message());
  const SignedParts& signed_parts = parts.value();
  if (!signed_parts.signed_) return verify_roster(text, current_, source).error();  // says how to sign
  const PublicKey& signer = signed_parts.admin_key;
  if (signer != current_) {
    if (retired(signer))
      return make_error(Code::bad_config, "roster " + source + " is signed by " + to_hex(signer) +
                                              ", an admin key this node no longer trusts (replaced; it trusts " +
                                              to_hex(current_) + ")");
    if (!signed_parts.handover || signed_parts.handover->from != current_)
      return make_error(Code::bad_config, "roster " + source + " is signed by " + to_hex(signer) +
                                              ", not by this node's admin key " + to_hex(current_) +
                                              ", and carries no hand-over from it");
    if (!handover_valid(*signed_parts.handover, signer, network))
      return make_error(Code::bad_config, "roster " + source + ": the hand-over from " + to_hex(current_) + " to " +
                                              to_hex(signer) + " is not valid for network \"" +
                                              std::string(network) + "\"");
  }
  if (auto status = verify_roster(text, signer, source); !status) return status.error();
  return signer;
}

std::optional<PublicKey> AdminTrust::trust(const PublicKey& signer) {
  if (signer == current_) return std::nullopt;
  const PublicKey old = current_;
  if (!retired(old)) retired_.push_back(old);
  current_ = signer;
  return old;
}

bool AdminTrust::retired(const PublicKey& key) const {
  return std::find(retired_.begin(), retired_.end(), key) != retired_.end();
}

}  // namespace placemesh
