#!/usr/bin/env bash
# Two placemeshd binaries side by side on the same HQ node, alternating:
# wrk on GET /healthz (the API's floor) and GET /v1/board, three rounds of
# each binary, to tell whether a change to the API moved its figures
# (BENCHMARKS.md, "The API before and after a change"). Loopback only.
#
#   ./tools/lab/api_before_after.sh OLD_PLACEMESHD NEW_PLACEMESHD
#
# Needs wrk (./deploy/install-deps.sh --bench) and a built placemeshctl
# (BUILD_DIR, default ./build). The network goes to a temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in -h|--help|"") sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;; esac
old=$1 new=${2:?the new placemeshd}
build=${BUILD_DIR:-$root/build}
port=${PORT:-9400}
work=$(mktemp -d /tmp/placemesh-api-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$build/tools/placemeshctl" quickstart --out "$work/net" --base-port "$port" >/dev/null
token=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['tokens']['viewer'])" "$work/net/network.json")
url=http://127.0.0.1:$port
rate() { wrk -t2 -c32 -d4s "$@" | awk '/Requests\/sec/ {print $2}'; }
echo "round binary healthz_per_s board_per_s"
for round in 1 2 3; do
  for which in old new; do
    bin=$old; [ "$which" = new ] && bin=$new
    "$bin" --config "$work/net/HQ.toml" >"$work/$which.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.05; done
    echo "$round $which $(rate "$url/healthz") $(rate -H "Authorization: Bearer $token" "$url/v1/board")"
    kill "$pid"; wait "$pid" || true; pid=
  done
done
