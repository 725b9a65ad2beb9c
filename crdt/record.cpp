#include "crdt/record.hpp"

namespace placemesh {

Status validate(const Record& record) {
  if (record.seq == 0) return make_error(Code::invalid_record, "sequence numbers start at 1");
  if (auto status = validate(record.key); !status) return status;
  return validate(record.key, record.value);
}

}  // namespace placemesh
