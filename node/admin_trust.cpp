#include "node/admin_trust.hpp"

#include <algorithm>

#include "node/roster_signature.hpp"

namespace placemesh {

AdminTrust::AdminTrust(PublicKey current, std::vector<PublicKey> retired)
    : current_(current), retired_(std::move(retired)) {}

Result<CheckedRoster> AdminTrust::check(std::string_view text, std::string_view network,
                                        const std::string& source) const {
  auto parts = split_signed_roster(text);
  if (!parts) return make_error(Code::bad_config, "roster " + source + ": " + parts.error().message());
  const SignedParts& signed_parts = parts.value();
  if (!signed_parts.signed_) return verify_roster(text, current_, source).error();  // says how to sign
  const PublicKey& signer = signed_parts.admin_key;
  const auto& handover = signed_parts.handover;
  if (handover && (handover->from == signer || !handover_valid(*handover, signer, network)))
    return make_error(Code::bad_config, "roster " + source + ": its hand-over from " + to_hex(handover->from) +
                                            " to " + to_hex(signer) + " is not valid for network \"" +
                                            std::string(network) + "\"");
  if (signer != current_) {
    if (retired(signer))
      return make_error(Code::bad_config, "roster " + source + " is signed by " + to_hex(signer) +
                                              ", an admin key this node no longer trusts (replaced; it trusts " +
                                              to_hex(current_) + ")");
    if (!handover || handover->from != current_)
      return make_error(Code::bad_config, "roster " + source + " is signed by " + to_hex(signer) +
                                              ", not by this node's admin key " + to_hex(current_) +
                                              ", and carries no hand-over from it");
  }
  if (auto status = verify_roster(text, signer, source); !status) return status.error();
  CheckedRoster checked{signer, std::nullopt};
  if (handover) checked.replaces = handover->from;
  return checked;
}

std::optional<PublicKey> AdminTrust::trust(const CheckedRoster& roster) {
  std::optional<PublicKey> old;
  if (roster.signer != current_) {
    old = current_;
    current_ = roster.signer;
    retire(*old);
  }
  if (roster.replaces) retire(*roster.replaces);
  return old;
}

void AdminTrust::retire(const PublicKey& key) {
  if (key != current_ && !retired(key)) retired_.push_back(key);
}

bool AdminTrust::retired(const PublicKey& key) const {
  return std::find(retired_.begin(), retired_.end(), key) != retired_.end();
}

}  // namespace placemesh
