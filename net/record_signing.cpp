#include "net/record_signing.hpp"

#include <sodium.h>

#include <cstring>
#include <string_view>

#include "net/record_codec.hpp"

namespace placemesh {

namespace {

constexpr std::string_view context = "placemesh-record-v1\n";

Bytes signed_bytes(const Record& record) {
  const Bytes body = encode_body(record);
  Bytes message(context.size() + body.size());
  std::memcpy(message.data(), context.data(), context.size());
  if (!body.empty()) std::memcpy(message.data() + context.size(), body.data(), body.size());
  return message;
}

}  // namespace

void sign_record(Record& record, const SecretKey& key) {
  PM_REQUIRE(record.origin.key == key.public_key(), "signing a record of another origin");
  record.signature = key.sign(signed_bytes(record));
}

bool record_signature_valid(const Record& record) {
  return verify(record.origin.key, signed_bytes(record), record.signature);
}

RecordPrint record_print(const Record& record) {
  const Bytes message = signed_bytes(record);
  RecordPrint print{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, print.size());
  crypto_generichash_update(&state, message.data(), message.size());
  crypto_generichash_update(&state, record.signature.data(), record.signature.size());
  crypto_generichash_final(&state, print.data(), print.size());
  return print;
}

}  // namespace placemesh
