# placemesh wire and storage schema (DESIGN §3.2, §4). Documented in net/README.md.
#
# This schema only grows: ids never change, ordinals are never reused, and
# tests/net/record_codec_test.cpp locks the encoding with golden bytes.
@0x92556017452ff990;

$import "/capnp/c++.capnp".namespace("placemesh::wire");

struct Origin {
  key @0 :Data;        # Ed25519 public key, 32 bytes
  epoch @1 :UInt64;
}

struct Hlc {
  wallMs @0 :Int64;
  logical @1 :UInt32;
}

struct Key {
  field @0 :UInt8;     # crdt::Field
  pool @1 :Text;       # "CENTRE/unit", empty for heartbeat
  arg @2 :Text;
}

struct Counter {
  p @0 :UInt64;
  n @1 :UInt64;
}

struct Reservation {
  state @0 :UInt8;     # held 0, expired 1, cancelled 2, confirmed 3
  count @1 :UInt32;
  expiresAtMs @2 :Int64;
  reference @3 :Data;  # opaque, at most 64 bytes
}

# The part an origin signs: its canonical encoding is the signed message.
struct RecordBody {
  origin @0 :Origin;
  seq @1 :UInt64;
  hlc @2 :Hlc;
  key @3 :Key;
  value :union {
    counter @4 :Counter;
    register @5 :Int64;
    reservation @6 :Reservation;
    heartbeat @7 :Void;
  }
}

struct SignedRecord {
  body @0 :RecordBody;
  signature @1 :Data;  # Ed25519 over the canonical bytes of body, 64 bytes
}

# One message on a link, the plaintext of one sealed frame (net/PROTOCOL.md).
# The gossip of records joins this union with the replication work.
struct LinkMessage {
  union {
    rosterVersion @0 :UInt64;  # the roster version the sender runs (sent when a link comes up)
    roster @1 :Text;           # a signed roster, sent to a peer that runs an older version
    records @2 :List(Data);    # encoded SignedRecords: eager push of new records, and relay
    digest @3 :List(OriginKnowledge);  # anti-entropy: everything the sender knows
    delta @4 :Delta;           # anti-entropy: what the asker lacks, bounded per frame
  }
}

# What a node knows of one origin: every seq up to `through`, plus `cloud`.
struct OriginKnowledge {
  origin @0 :Origin;
  through @1 :UInt64;
  cloud @2 :List(UInt64);
}

# The latest records of one origin with seq > base that the asker lacks, in
# seq order; applying them all raises the asker's knowledge to `through`.
struct OriginDelta {
  origin @0 :Origin;
  base @1 :UInt64;
  through @2 :UInt64;
  records @3 :List(Data);  # encoded SignedRecords
  superseded @4 :List(UInt64);  # seqs the sender knows were replaced by a newer record of their key
}

struct Delta {
  origins @0 :List(OriginDelta);
  truncated @1 :Bool;      # the budget ran out: ask again
}
