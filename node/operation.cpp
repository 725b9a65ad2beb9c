#include "node/operation.hpp"

#include <sodium.h>

#include <array>

#include "crdt/limits.hpp"

namespace placemesh {

std::string_view operation_name(OperationKind kind) {
  switch (kind) {
    case OperationKind::admit: return "admit";
    case OperationKind::release: return "release";
    case OperationKind::block: return "block";
    case OperationKind::unblock: return "unblock";
    case OperationKind::operational: return "operational";
  }
  return "admit";
}

bool is_valid_op_id(std::string_view id) {
  if (id.empty() || id.size() > limits::op_id_bytes_max) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.' || c == ':'))
      return false;
  return true;
}

std::string new_op_id() {
  std::array<std::uint8_t, 16> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // UUID version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);
  std::string hex(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::optional<OperationKind> operation_from_name(std::string_view name) {
  for (auto kind : {OperationKind::admit, OperationKind::release, OperationKind::block, OperationKind::unblock,
                    OperationKind::operational})
    if (operation_name(kind) == name) return kind;
  return std::nullopt;
}

}  // namespace placemesh
