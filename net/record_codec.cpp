#include "net/record_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "crdt/limits.hpp"
#include "net/flat_message.hpp"
#include "net/placemesh.capnp.h"

namespace placemesh {

namespace {


kj::ArrayPtr<const capnp::byte> as_data(std::span<const std::uint8_t> bytes) {
  return kj::ArrayPtr<const capnp::byte>(bytes.data(), bytes.size());
}

void fill_body(wire::RecordBody::Builder body, const Record& record) {
  auto origin = body.initOrigin();
  origin.setKey(as_data(record.origin.key));
  origin.setEpoch(record.origin.epoch);
  body.setSeq(record.seq);
  auto hlc = body.initHlc();
  hlc.setWallMs(record.hlc.wall_ms);
  hlc.setLogical(record.hlc.logical);
  auto key = body.initKey();
  key.setField(static_cast<std::uint8_t>(record.key.field));
  key.setPool(record.key.pool);
  key.setArg(record.key.arg);
  auto value = body.initValue();
  std::visit(
      [&](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, Counter>) {
          auto counter = value.initCounter();
          counter.setP(v.p);
          counter.setN(v.n);
        } else if constexpr (std::is_same_v<V, Register>) {
          value.setRegister(v.value);
        } else if constexpr (std::is_same_v<V, Reservation>) {
          auto reservation = value.initReservation();
          reservation.setState(static_cast<std::uint8_t>(v.state));
          reservation.setCount(v.count);
          reservation.setExpiresAtMs(v.expires_at_ms);
          reservation.setReference(kj::ArrayPtr<const capnp::byte>(
              reinterpret_cast<const capnp::byte*>(v.reference.data()), v.reference.size()));
        } else {
          value.setHeartbeat();
        }
      },
      record.value);
}

template <typename Words>
Bytes to_bytes(const Words& words) {
  const auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Result<Record> read_record(wire::SignedRecord::Reader signed_record) {
  Record record;
  const auto body = signed_record.getBody();
  const auto origin_key = body.getOrigin().getKey();
  if (origin_key.size() != record.origin.key.size())
    return make_error(Code::malformed, "origin key is " + std::to_string(origin_key.size()) + " bytes, not 32");
  std::memcpy(record.origin.key.data(), origin_key.begin(), origin_key.size());
  record.origin.epoch = body.getOrigin().getEpoch();
  record.seq = body.getSeq();
  record.hlc = Hlc{body.getHlc().getWallMs(), body.getHlc().getLogical()};
  const auto field = body.getKey().getField();
  if (field > field_max) return make_error(Code::malformed, "unknown field " + std::to_string(field));
  record.key = Key{static_cast<Field>(field), body.getKey().getPool(), body.getKey().getArg()};
  const auto value = body.getValue();
  switch (value.which()) {
    case wire::RecordBody::Value::COUNTER:
      record.value = Counter{value.getCounter().getP(), value.getCounter().getN()};
      break;
    case wire::RecordBody::Value::REGISTER:
      record.value = Register{value.getRegister()};
      break;
    case wire::RecordBody::Value::RESERVATION: {
      const auto reservation = value.getReservation();
      if (reservation.getState() > reservation_state_max)
        return make_error(Code::malformed, "unknown reservation state");
      const auto reference = reservation.getReference();
      record.value = Reservation{static_cast<ReservationState>(reservation.getState()), reservation.getCount(),
                                 reservation.getExpiresAtMs(),
                                 std::string(reinterpret_cast<const char*>(reference.begin()), reference.size())};
      break;
    }
    case wire::RecordBody::Value::HEARTBEAT:
      record.value = Heartbeat{};
      break;
    default:
      return make_error(Code::malformed, "unknown value kind " + std::to_string(int(value.which())));
  }
  const auto signature = signed_record.getSignature();
  if (signature.size() != record.signature.size())
    return make_error(Code::malformed, "signature is " + std::to_string(signature.size()) + " bytes, not 64");
  std::memcpy(record.signature.data(), signature.begin(), signature.size());
  if (auto status = validate(record); !status) return status.error();
  return record;
}

}  // namespace

Bytes encode_body(const Record& record) {
  capnp::MallocMessageBuilder message;
  fill_body(message.initRoot<wire::RecordBody>(), record);
  return to_bytes(capnp::canonicalize(message.getRoot<wire::RecordBody>().asReader()));
}

Bytes encode(const Record& record) {
  capnp::MallocMessageBuilder message;
  auto signed_record = message.initRoot<wire::SignedRecord>();
  fill_body(signed_record.initBody(), record);
  signed_record.setSignature(as_data(record.signature));
  return to_bytes(capnp::messageToFlatArray(message));
}

Result<Record> decode(std::span<const std::uint8_t> bytes) {
  return flat::read<wire::SignedRecord, Record>(bytes, limits::record_bytes_max, "record",
                                                [](wire::SignedRecord::Reader root) { return read_record(root); });
}

}  // namespace placemesh
