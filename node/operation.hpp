#pragma once
// A local operation as the API and the CLI ask for it (DESIGN §3.5): what,
// on which pool, how many, why, under which operation id, by whom; and its
// outcome. Values only; node/command_path.cpp carries them out.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/result.hpp"

namespace placemesh {

enum class OperationKind : std::uint8_t { admit, release, block, unblock, operational };
[[nodiscard]] std::string_view operation_name(OperationKind kind);
[[nodiscard]] std::optional<OperationKind> operation_from_name(std::string_view name);
// 1 to limits::op_id_bytes_max of A-Z a-z 0-9 - _ . :
[[nodiscard]] bool is_valid_op_id(std::string_view id);
// A random UUID (version 4), for operations whose caller gave no op_id.
[[nodiscard]] std::string new_op_id();

struct OperationRequest {
  OperationKind kind = OperationKind::admit;
  std::string pool;     // "CIM/men"
  std::int64_t count = 1;   // admit, release, block, unblock
  std::int64_t value = 0;   // operational
  std::string reason;   // release (free text for the audit log only), block, unblock (a blocked reason)
  std::string op_id;
  std::string actor;    // token name, for the audit log
};

struct OperationOutcome {
  std::optional<Error> error;
  std::string receipt;  // JSON, when it succeeded
  bool replayed = false;
};

}  // namespace placemesh
