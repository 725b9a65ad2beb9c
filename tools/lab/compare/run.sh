#!/usr/bin/env bash
# placemesh against the central stores an operator would pick instead —
# a three-member etcd cluster, Redis (appendfsync always) and PostgreSQL
# (synchronous_commit on) — with the same workload, side by side on
# loopback (BENCHMARKS.md, "Against a central store"). Installs what is
# missing, builds, starts every server with its data in a temporary folder,
# prints the table, stops them and removes the folder.
#
#   ./tools/lab/compare/run.sh                       5 rounds of 100 increments per writer
#   ./tools/lab/compare/run.sh --writers 1           one writer at a time instead of six
#   ./tools/lab/compare/run.sh --rounds 10 --only placemesh,redis
#
# Options go to placemesh-compare (--help lists them). Environment:
# BUILD_DIR (default ./build), KEEP=1 keeps the servers' folder and logs.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

"$root/deploy/install-deps.sh" --bench
build=${BUILD_DIR:-$root/build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target placemesh-compare placemeshd

work=$(mktemp -d /tmp/placemesh-compare-XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then
  echo "==> servers' data and logs stay in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
"$build/tools/lab/compare/placemesh-compare" --dir "$work" "$@"
