#pragma once
// The crypto half of placemesh-bench (BENCHMARKS.md, secure mesh): the link
// handshake, sealed frames and record signatures, each against the raw
// libsodium primitives it is made of, measured in the same run.

namespace placemesh::tools {

// Prints Markdown tables to stdout; `rounds` alternating rounds of about
// `round_seconds` per measure, medians reported.
void run_crypto_bench(int rounds, double round_seconds);

}  // namespace placemesh::tools
