#!/usr/bin/env bash
# The fault campaign at full length, and its report (docs/reliability.md):
# seven real placemeshd processes in network namespaces through a schedule
# of faults, every board checked against the oracle after each one.
#
#   sudo ./tests/faults/run.sh            build, run (about 4 minutes), write docs/reliability.md
#   sudo ./tests/faults/run.sh --quick    the shorter faults ctest runs; the report goes to stdout
#   sudo ./tests/faults/run.sh --seed N   replay a run's writers (the seed is printed); --keep keeps the logs
#   sudo ./tests/faults/run.sh --only 7   chosen steps only; the report goes to stdout
#
# Needs root: network namespaces, veths and nft rules, all inside namespaces
# the campaign creates and removes. Environment: BUILD_DIR (default ./build).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
if [ "$(id -u)" != 0 ]; then
  echo "run.sh: the campaign needs root (network namespaces and nft rules): sudo $0 $*" >&2
  exit 2
fi

"$root/deploy/install-deps.sh" --tests
build=${BUILD_DIR:-$root/build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target placemesh-faults placemeshd
campaign="$build/tests/faults/placemesh-faults"
# Only a whole, full-length run rewrites the report.
for arg in "$@"; do
  case "$arg" in --quick|--only|--only=*) exec "$campaign" "$@" ;; esac
done
exec "$campaign" --out "$root/docs/reliability.md" "$@"
