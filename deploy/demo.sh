#!/usr/bin/env bash
# The placemesh demo: six closed centres and headquarters on loopback.
#
#   ./deploy/demo.sh            install what is missing, build, start the seven nodes
#   ./deploy/demo.sh --load     the same, plus a stream of admissions and releases
#   ./deploy/demo.sh --fresh    forget the previous demo network (keys, data) first
#   ./deploy/demo.sh --help
#
# The network lives in var/demo (git-ignored): keys (mode 0600), the signed
# roster, one config per node, tokens, network.json/.env, data/ and logs/.
# Ctrl-C stops every node cleanly (SIGTERM; each drains what is in flight).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=var/demo
base_port=8400
load=0
fresh=0

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --load) load=1 ;;
    --fresh) fresh=1 ;;
    --base-port) base_port="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

echo "==> packages"
./deploy/install-deps.sh

echo "==> building placemeshd and placemeshctl (build-demo/, Release)"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build-demo -j"$(nproc)" --target placemeshd placemeshctl
placemeshd=$root/build-demo/node/placemeshd
placemeshctl=$root/build-demo/tools/placemeshctl

if [ "$fresh" = 1 ]; then rm -rf "$dir"; fi
if [ -f "$dir/network.env" ]; then
  echo "==> reusing the network in $dir (its data and tokens; --fresh starts over)"
else
  echo "==> writing a new network into $dir"
  mkdir -p "$(dirname "$dir")"
  "$placemeshctl" quickstart --out "$dir" --base-port "$base_port" >/dev/null
fi
# shellcheck disable=SC1091
. "$dir/network.env"
mkdir -p "$dir/logs"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping the nodes"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped. Logs: $dir/logs/  Data: $dir/data/  (run ./deploy/demo.sh again to resume)"
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

echo "==> starting ${PLACEMESH_NODES}"
for node in $PLACEMESH_NODES; do
  config_var=PLACEMESH_CONFIG_$node
  # setsid: Ctrl-C's SIGINT must not reach the nodes; stop() sends each one
  # SIGTERM once, and it drains what is in flight.
  setsid "$placemeshd" --config "${!config_var}" >>"$dir/logs/$node.log" 2>&1 &
  pids+=("$!")
done

# Every node answers /healthz, or we say which one does not and why.
for node in $PLACEMESH_NODES; do
  api_var=PLACEMESH_API_$node
  for _ in $(seq 1 100); do
    if "$placemeshctl" --api "${!api_var}" --token "$PLACEMESH_TOKEN_viewer" status >/dev/null 2>&1; then continue 2; fi
    sleep 0.1
  done
  echo "demo.sh: $node did not start; the end of $dir/logs/$node.log:" >&2
  tail -n 20 "$dir/logs/$node.log" >&2
  exit 1
done

cat <<INFO

placemesh demo: 7 nodes running on loopback.

  Headquarters dashboard (dispatcher):  ${PLACEMESH_API_HQ}/#token=${PLACEMESH_TOKEN_dispatcher}
  Merksplas (CIM) dashboard (operator): ${PLACEMESH_API_CIM}/#token=${PLACEMESH_TOKEN_cim}

  The CLI:
    export PLACEMESH_API=${PLACEMESH_API_CIM} PLACEMESH_TOKEN=${PLACEMESH_TOKEN_cim}
    $placemeshctl admit CIM/men -n 2
    $placemeshctl board --watch
    $placemeshctl peers

  Tokens and URLs: $dir/network.env (mode 0600). Logs: $dir/logs/. Data: $dir/data/.
  Ctrl-C stops every node.
INFO

if [ "$load" = 1 ]; then
  echo
  echo "==> load: admissions and releases at every centre (a day's rhythm every 2 minutes; log in $dir/logs/load.log)"
  centres=()
  for node in $PLACEMESH_NODES; do [ "$node" != HQ ] && centres+=("$node"); done
  (
    set +e  # a refused release (nothing to release) or a busy node must not end the load
    # Morning census: an empty pool starts about 80 % full, as the centres usually are.
    for centre in "${centres[@]}"; do
      api_var=PLACEMESH_API_$centre
      token_var=PLACEMESH_TOKEN_$(echo "$centre" | tr '[:upper:]' '[:lower:]')
      "$placemeshctl" --api "${!api_var}" --token "${!token_var}" --json board 2>/dev/null |
        grep -o "\"design\":[0-9]*,\"id\":\"$centre/[^\"]*\",\"occupied\":0" |
        while IFS='"' read -r _ _ design _ _ pool _; do
          design=${design#:}; design=${design%,}
          "$placemeshctl" --api "${!api_var}" --token "${!token_var}" admit "$pool" -n $((design * 8 / 10)) \
            >>"$dir/logs/load.log" 2>&1
        done
    done
    start=$(date +%s)
    while :; do
      centre=${centres[$((RANDOM % ${#centres[@]}))]}
      api_var=PLACEMESH_API_$centre
      token_var=PLACEMESH_TOKEN_$(echo "$centre" | tr '[:upper:]' '[:lower:]')
      pool=$("$placemeshctl" --api "${!api_var}" --token "${!token_var}" --json board 2>/dev/null |
             grep -o "\"id\": *\"$centre/[^\"]*\"" | cut -d'"' -f4 | shuf -n 1)
      [ -n "$pool" ] || { sleep 1; continue; }
      # Morning: mostly admissions; afternoon: mostly releases.
      phase=$(( ($(date +%s) - start) % 120 ))
      if [ $((RANDOM % 100)) -lt $(( phase < 60 ? 75 : 30 )) ]; then
        "$placemeshctl" --api "${!api_var}" --token "${!token_var}" admit "$pool" -n 1 >>"$dir/logs/load.log" 2>&1 || true
      else
        "$placemeshctl" --api "${!api_var}" --token "${!token_var}" release "$pool" -n 1 --reason released \
          >>"$dir/logs/load.log" 2>&1 || true
      fi
      sleep 0.$((2 + RANDOM % 6))
    done
  ) &
  pids+=("$!")
fi

# Until Ctrl-C, or until a node exits on its own.
while :; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo.sh: a node exited; see $dir/logs/" >&2
      exit 1
    fi
  done
  sleep 1
done
