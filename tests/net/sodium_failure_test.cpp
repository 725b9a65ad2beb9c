// Every libsodium call of the handshake fails closed (STYLE 14; issue 14).
// This binary is linked with -Wl,--wrap for each of those functions (see
// tests/CMakeLists.txt): the wrappers call the real libsodium unless the
// test asks the n-th call of one function, on one side, to fail. For every
// call a whole handshake makes, the side whose call failed must end the
// handshake with a reason and never report it done.
//
// crypto_sign_detached and crypto_secretstream_xchacha20poly1305_push are
// not wrapped: SecretKey::sign and Channel::seal assert on their failure,
// which stops the process (fail closed, but not testable in-process).
#include <catch2/catch.hpp>
#include <sodium.h>

#include <map>
#include <string>

#include "net/secure_channel.hpp"

using namespace placemesh;
using namespace placemesh::net;

namespace {

enum class Side { none, initiator, responder };

struct Injection {
  Side side = Side::none;      // whose handshake is running now
  std::string function;        // the function to fail
  Side fail_side = Side::none;
  int fail_call = 0;           // the n-th call (from 1) of `function` on `fail_side`
  std::map<std::pair<Side, std::string>, int> calls;
  bool fired = false;
};
Injection injection;

// True when this call is to fail.
bool inject(const char* function) {
  const int call = ++injection.calls[{injection.side, function}];
  if (injection.side == injection.fail_side && injection.function == function && injection.fail_call == call) {
    injection.fired = true;
    return true;
  }
  return false;
}

}  // namespace

extern "C" {
int __real_crypto_kx_keypair(unsigned char*, unsigned char*);
int __real_crypto_kx_client_session_keys(unsigned char*, unsigned char*, const unsigned char*, const unsigned char*,
                                         const unsigned char*);
int __real_crypto_kx_server_session_keys(unsigned char*, unsigned char*, const unsigned char*, const unsigned char*,
                                         const unsigned char*);
int __real_crypto_generichash(unsigned char*, size_t, const unsigned char*, unsigned long long, const unsigned char*,
                              size_t);
int __real_crypto_generichash_init(crypto_generichash_state*, const unsigned char*, size_t, size_t);
int __real_crypto_generichash_update(crypto_generichash_state*, const unsigned char*, unsigned long long);
int __real_crypto_generichash_final(crypto_generichash_state*, unsigned char*, size_t);
int __real_crypto_secretstream_xchacha20poly1305_init_push(crypto_secretstream_xchacha20poly1305_state*,
                                                           unsigned char*, const unsigned char*);
int __real_crypto_secretstream_xchacha20poly1305_init_pull(crypto_secretstream_xchacha20poly1305_state*,
                                                           const unsigned char*, const unsigned char*);
int __real_crypto_secretstream_xchacha20poly1305_pull(crypto_secretstream_xchacha20poly1305_state*, unsigned char*,
                                                      unsigned long long*, unsigned char*, const unsigned char*,
                                                      unsigned long long, const unsigned char*, unsigned long long);
int __real_crypto_sign_verify_detached(const unsigned char*, const unsigned char*, unsigned long long,
                                       const unsigned char*);

int __wrap_crypto_kx_keypair(unsigned char* pk, unsigned char* sk) {
  return inject("crypto_kx_keypair") ? -1 : __real_crypto_kx_keypair(pk, sk);
}
int __wrap_crypto_kx_client_session_keys(unsigned char* rx, unsigned char* tx, const unsigned char* pk,
                                         const unsigned char* sk, const unsigned char* server) {
  return inject("crypto_kx_client_session_keys") ? -1 : __real_crypto_kx_client_session_keys(rx, tx, pk, sk, server);
}
int __wrap_crypto_kx_server_session_keys(unsigned char* rx, unsigned char* tx, const unsigned char* pk,
                                         const unsigned char* sk, const unsigned char* client) {
  return inject("crypto_kx_server_session_keys") ? -1 : __real_crypto_kx_server_session_keys(rx, tx, pk, sk, client);
}
int __wrap_crypto_generichash(unsigned char* out, size_t outlen, const unsigned char* in, unsigned long long inlen,
                              const unsigned char* key, size_t keylen) {
  return inject("crypto_generichash") ? -1 : __real_crypto_generichash(out, outlen, in, inlen, key, keylen);
}
int __wrap_crypto_generichash_init(crypto_generichash_state* state, const unsigned char* key, size_t keylen,
                                   size_t outlen) {
  return inject("crypto_generichash_init") ? -1 : __real_crypto_generichash_init(state, key, keylen, outlen);
}
int __wrap_crypto_generichash_update(crypto_generichash_state* state, const unsigned char* in,
                                     unsigned long long inlen) {
  return inject("crypto_generichash_update") ? -1 : __real_crypto_generichash_update(state, in, inlen);
}
int __wrap_crypto_generichash_final(crypto_generichash_state* state, unsigned char* out, size_t outlen) {
  return inject("crypto_generichash_final") ? -1 : __real_crypto_generichash_final(state, out, outlen);
}
int __wrap_crypto_secretstream_xchacha20poly1305_init_push(crypto_secretstream_xchacha20poly1305_state* state,
                                                           unsigned char* header, const unsigned char* key) {
  return inject("crypto_secretstream_xchacha20poly1305_init_push")
             ? -1
             : __real_crypto_secretstream_xchacha20poly1305_init_push(state, header, key);
}
int __wrap_crypto_secretstream_xchacha20poly1305_init_pull(crypto_secretstream_xchacha20poly1305_state* state,
                                                           const unsigned char* header, const unsigned char* key) {
  return inject("crypto_secretstream_xchacha20poly1305_init_pull")
             ? -1
             : __real_crypto_secretstream_xchacha20poly1305_init_pull(state, header, key);
}
int __wrap_crypto_secretstream_xchacha20poly1305_pull(crypto_secretstream_xchacha20poly1305_state* state,
                                                      unsigned char* m, unsigned long long* mlen, unsigned char* tag,
                                                      const unsigned char* c, unsigned long long clen,
                                                      const unsigned char* ad, unsigned long long adlen) {
  return inject("crypto_secretstream_xchacha20poly1305_pull")
             ? -1
             : __real_crypto_secretstream_xchacha20poly1305_pull(state, m, mlen, tag, c, clen, ad, adlen);
}
int __wrap_crypto_sign_verify_detached(const unsigned char* sig, const unsigned char* m, unsigned long long mlen,
                                       const unsigned char* pk) {
  return inject("crypto_sign_verify_detached") ? -1 : __real_crypto_sign_verify_detached(sig, m, mlen, pk);
}
}

namespace {

const char* const wrapped[] = {"crypto_kx_keypair",
                               "crypto_kx_client_session_keys",
                               "crypto_kx_server_session_keys",
                               "crypto_generichash",
                               "crypto_generichash_init",
                               "crypto_generichash_update",
                               "crypto_generichash_final",
                               "crypto_secretstream_xchacha20poly1305_init_push",
                               "crypto_secretstream_xchacha20poly1305_init_pull",
                               "crypto_secretstream_xchacha20poly1305_pull",
                               "crypto_sign_verify_detached"};

struct Outcome {
  Handshake::Progress initiator, responder;
};

// One whole handshake between two members, each step attributed to its side.
Outcome handshake(const SecretKey& a, const SecretKey& b) {
  auto members = [&](const PublicKey& key) {
    return key == a.public_key() || key == b.public_key() ? KeyStatus::member : KeyStatus::unknown;
  };
  injection.side = Side::initiator;
  Handshake initiator(Handshake::Role::initiator, Signer::of(a), "be", members, b.public_key());
  injection.side = Side::responder;
  Handshake responder(Handshake::Role::responder, Signer::of(b), "be", members, std::nullopt);
  Outcome outcome;
  Bytes to_responder = initiator.hello(), to_initiator = responder.hello();
  for (int round = 0; round < 4 && (!to_responder.empty() || !to_initiator.empty()); ++round) {
    injection.side = Side::responder;
    outcome.responder = responder.receive(to_responder);
    injection.side = Side::initiator;
    outcome.initiator = initiator.receive(to_initiator);
    to_responder = outcome.initiator.to_send;
    to_initiator = outcome.responder.to_send;
  }
  injection.side = Side::none;
  return outcome;
}

}  // namespace

TEST_CASE("handshake: a failed libsodium call on either side, at any point, ends the handshake on that side") {
  REQUIRE(sodium_ready());
  const auto a = SecretKey::generate().value(), b = SecretKey::generate().value();

  // First, every call a whole handshake makes, per side.
  injection = Injection{};
  const Outcome clean = handshake(*a, *b);
  REQUIRE(clean.initiator.done);
  REQUIRE(clean.responder.done);
  const auto calls = injection.calls;
  int forced = 0;
  for (const Side side : {Side::initiator, Side::responder}) {
    for (const char* function : wrapped) {
      const auto found = calls.find({side, function});
      const int count = found == calls.end() ? 0 : found->second;
      for (int call = 1; call <= count; ++call) {
        injection = Injection{};
        injection.function = function;
        injection.fail_side = side;
        injection.fail_call = call;
        const Outcome outcome = handshake(*a, *b);
        const Handshake::Progress& failed = side == Side::initiator ? outcome.initiator : outcome.responder;
        INFO((side == Side::initiator ? "initiator" : "responder") << ": call " << call << " of " << function);
        REQUIRE(injection.fired);
        CHECK_FALSE(failed.done);
        REQUIRE(failed.failed.has_value());
        // A failure of our own crypto is said as such; the peer's bytes
        // failing to open or verify as what they look like to the peer.
        const std::string name(function);
        if (name.find("generichash") != std::string::npos || name == "crypto_kx_keypair" ||
            name.ends_with("init_push"))
          CHECK(*failed.failed == Reject::crypto_failure);
        ++forced;
      }
    }
  }
  // Each side hashes, keys, opens and verifies: at least ten distinct calls.
  CHECK(forced >= 20);
  for (const char* function : wrapped) {
    INFO(function);
    CHECK((calls.contains({Side::initiator, function}) || calls.contains({Side::responder, function})));
  }
}
