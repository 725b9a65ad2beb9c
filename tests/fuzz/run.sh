#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan) in build-fuzz/ and
# runs each for SECONDS (default 15: what CI does). A longer run:
#   ./tests/fuzz/run.sh 3600
# Corpora grow in build-fuzz/corpus/<target>/; a crash leaves its input in
# build-fuzz/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
jobs=$(nproc 2>/dev/null || echo 2)
if ! command -v clang++-14 >/dev/null; then
  echo "fuzz: clang++-14 is missing; run deploy/install-deps.sh" >&2
  exit 1
fi
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DPLACEMESH_FUZZ=ON -DPLACEMESH_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$jobs" --target record_decode_fuzz handshake_fuzz frame_fuzz
for target in record_decode handshake frame; do
  corpus=build-fuzz/corpus/$target
  mkdir -p "$corpus"
  echo "==> fuzzing $target for ${seconds} s"
  (cd build-fuzz && "./tests/fuzz/${target}_fuzz" -max_total_time="$seconds" -print_final_stats=1 \
     -max_len=4096 "corpus/$target" 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY|INFO: Loaded)' || true)
  # libFuzzer exits non-zero and writes crash-* on a finding.
  if compgen -G "build-fuzz/crash-*" >/dev/null || compgen -G "build-fuzz/leak-*" >/dev/null; then
    echo "fuzz: $target found a crashing input: $(ls build-fuzz/crash-* build-fuzz/leak-* 2>/dev/null)" >&2
    exit 1
  fi
done
echo "==> fuzzing passed"
