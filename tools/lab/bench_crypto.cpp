#include "tools/lab/bench_crypto.hpp"

#include "tools/lab/bench_common.hpp"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <vector>

#include "crdt/key.hpp"
#include "net/record_codec.hpp"
#include "net/record_signing.hpp"
#include "net/secure_channel.hpp"

namespace placemesh::tools {

namespace {

using Clock = std::chrono::steady_clock;

// Operations per second of `one`, run for about `seconds`.
double rate(const std::function<void()>& one, double seconds) {
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::uint64_t count = 0;
  while (Clock::now() < until) {
    for (int i = 0; i < 16; ++i) one();
    count += 16;
  }
  return static_cast<double>(count) / std::chrono::duration<double>(Clock::now() - start).count();
}

using bench::median;

struct Pair {
  std::unique_ptr<SecretKey> a = SecretKey::generate().value();
  std::unique_ptr<SecretKey> b = SecretKey::generate().value();
  net::Membership members = [](const PublicKey&) { return net::KeyStatus::member; };
};

// Both sides of one handshake, in memory; their channels (sender, receiver).
std::pair<std::unique_ptr<net::Channel>, std::unique_ptr<net::Channel>> handshake_once(const Pair& pair) {
  net::Handshake initiator(net::Handshake::Role::initiator, net::Signer::of(*pair.a), "bench", pair.members,
                           std::nullopt);
  net::Handshake responder(net::Handshake::Role::responder, net::Signer::of(*pair.b), "bench", pair.members,
                           std::nullopt);
  (void)responder.receive(initiator.hello());  // the responder answers only the initiator's proof
  auto at_initiator = initiator.receive(responder.hello());
  auto done_responder = responder.receive(at_initiator.to_send);
  auto done_initiator = initiator.receive(done_responder.to_send);
  if (!done_responder.done || !done_initiator.done) std::abort();
  return {initiator.take_channel(), responder.take_channel()};
}

// What a handshake does with libsodium, both sides, without our framing.
void raw_handshake_once(const Pair& pair) {
  unsigned char pk1[32], sk1[32], pk2[32], sk2[32], rx[32], tx[32], transcript[32], header[24];
  crypto_kx_keypair(pk1, sk1);
  crypto_kx_keypair(pk2, sk2);
  if (crypto_kx_client_session_keys(rx, tx, pk1, sk1, pk2) != 0 ||
      crypto_kx_server_session_keys(rx, tx, pk2, sk2, pk1) != 0)
    std::abort();
  crypto_generichash(transcript, 32, pk1, 32, nullptr, 0);
  crypto_secretstream_xchacha20poly1305_state push{}, pull{};
  for (int side = 0; side < 2; ++side) {
    crypto_secretstream_xchacha20poly1305_init_push(&push, header, tx);
    if (crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, tx) != 0) std::abort();
  }
  const auto signature_a = pair.a->sign(std::span<const std::uint8_t>(transcript, 32));
  const auto signature_b = pair.b->sign(std::span<const std::uint8_t>(transcript, 32));
  if (!verify(pair.a->public_key(), std::span<const std::uint8_t>(transcript, 32), signature_a) ||
      !verify(pair.b->public_key(), std::span<const std::uint8_t>(transcript, 32), signature_b))
    std::abort();
}

}  // namespace

void run_crypto_bench(int rounds, double round_seconds) {
  if (!sodium_ready()) std::abort();
  Pair pair;
  std::map<std::string, std::vector<double>> results;

  auto [sender, receiver] = handshake_once(pair);  // channels for the frame measures

  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_keygen(key);
  crypto_secretstream_xchacha20poly1305_state push{}, pull{};
  crypto_secretstream_xchacha20poly1305_init_push(&push, header, key);
  if (crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key) != 0) std::abort();

  Record record{Origin{pair.a->public_key(), 1}, 1, Hlc{1'795'000'000'000, 0}, occupied_key("CIM/men"),
                Counter{12, 3}, {}};
  sign_record(record, *pair.a);
  const net::Bytes body = encode_body(record);

  for (int round = 0; round < rounds; ++round) {
    results["handshake"].push_back(rate([&] { (void)handshake_once(pair); }, round_seconds));
    results["handshake raw"].push_back(rate([&] { raw_handshake_once(pair); }, round_seconds));
    for (std::size_t size : {std::size_t{64}, std::size_t{4096}}) {
      const net::Bytes message(size, 0x5a);
      net::Bytes out(size + crypto_secretstream_xchacha20poly1305_ABYTES), back(size);
      const std::string name = std::to_string(size);
      results["frame " + name].push_back(rate(
          [&] {
            auto opened = receiver->open(sender->seal(message));
            if (opened.messages.size() != 1) std::abort();
          },
          round_seconds));
      results["frame raw " + name].push_back(rate(
          [&] {
            unsigned char tag = 0;
            crypto_secretstream_xchacha20poly1305_push(&push, out.data(), nullptr, message.data(), size, nullptr, 0,
                                                       0);
            if (crypto_secretstream_xchacha20poly1305_pull(&pull, back.data(), nullptr, &tag, out.data(), out.size(),
                                                           nullptr, 0) != 0)
              std::abort();
          },
          round_seconds));
    }
    results["sign"].push_back(rate([&] { sign_record(record, *pair.a); }, round_seconds));
    results["sign raw"].push_back(rate([&] { (void)pair.a->sign(body); }, round_seconds));
    results["verify"].push_back(rate([&] { if (!record_signature_valid(record)) std::abort(); }, round_seconds));
    results["verify raw"].push_back(rate(
        [&] {
          if (!verify(pair.a->public_key(), body, record.signature)) {
          }
        },
        round_seconds));
  }

  auto row = [&](const char* what, const std::string& ours, const std::string& raw) {
    const double a = median(results[ours]), b = median(results[raw]);
    std::printf("| %s | %.0f | %.0f | %.2f |\n", what, a, b, a / b);
  };
  std::printf("## Secure link and record signatures (operations/s, one core; median of %d rounds)\n\n", rounds);
  std::printf("| measure | placemesh | raw libsodium | ratio |\n|---|---:|---:|---:|\n");
  row("handshake, both sides (kx, transcript, streams, sign + verify each)", "handshake", "handshake raw");
  row("frame seal + open, 64 B", "frame 64", "frame raw 64");
  row("frame seal + open, 4 KiB", "frame 4096", "frame raw 4096");
  row("sign a record (encode body + Ed25519)", "sign", "sign raw");
  row("verify a record (encode body + Ed25519)", "verify", "verify raw");
  std::printf("\nper record: sign %.1f µs, verify %.1f µs\n", 1e6 / median(results["sign"]),
              1e6 / median(results["verify"]));
}

}  // namespace placemesh::tools
