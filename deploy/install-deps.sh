#!/usr/bin/env bash
# Installs the Debian 12 packages placemesh needs to build and test, if any is
# missing. Quick and silent when everything is there. Uses sudo when not root.
#
# Why each package:
#   cmake g++ pkg-config ccache   build (ccache keeps CI rebuilds fast)
#   catch2 librapidcheck-dev      unit and property tests
#   capnproto libcapnp-dev        wire and storage schema (net/placemesh.capnp)
#   liblmdb-dev lmdb-utils        the node's store; mdb_stat reads it offline
#   libsodium-dev                 node keys, signatures, token hashes
#   libasio-dev librestinio-dev   the node's io loop and its HTTP API (RESTinio
#                                 needs libhttp-parser-dev and libfmt-dev)
#   libtomlplusplus-dev           config, roster and tokens files
#   nlohmann-json3-dev            API bodies
#   libspdlog-dev                 logs
#   libcli11-dev                  command lines of placemeshd and placemeshctl
#   libcurl4-openssl-dev          placemeshctl's HTTP(S) client (TLS, CAs, proxies, keep-alive)
#   libssl-dev openssl            HTTPS on the node's API (RESTinio over asio::ssl); the tests make
#                                 a self-signed certificate with the openssl command
#   libpq-dev                     PostgreSQL's client library, for tools/lab/compare (placemesh-compare)
#   clang-14 libclang-rt-14-dev   libFuzzer targets (tests/fuzz/run.sh)
#   iproute2 nftables             the network-namespace test: ip netns, partitions
#                                 and loss as nft rules inside the namespaces
#
# With --tests, also what tests/run.sh needs beyond the build:
#   chromium nodejs npm           the dashboard's browser test (tests/browser, playwright-core from npm)
#   faketime                      the fault campaign runs one node with its clock 2 h ahead (tests/faults)
# With --bench, also what tools/lab/placemesh-bench and tools/lab/compare compare against:
#   redis-server                  Redis with appendfsync always (BENCHMARKS.md)
#   etcd-server                   a three-member etcd cluster (tools/lab/compare)
#   postgresql                    PostgreSQL with synchronous_commit on (tools/lab/compare); no
#                                 default cluster is created, the comparison makes its own
#   wrk                           HTTP load for the board and event benchmarks
# The Debian packages of the servers may start their default services; the
# benchmarks run their own instances on free loopback ports.
set -euo pipefail

packages=(cmake g++ make pkg-config ccache catch2 librapidcheck-dev capnproto libcapnp-dev liblmdb-dev
          lmdb-utils libsodium-dev libasio-dev librestinio-dev libhttp-parser-dev libfmt-dev
          libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libcli11-dev libcurl4-openssl-dev libssl-dev openssl clang-14 libclang-rt-14-dev
          iproute2 nftables libpq-dev)
for arg in "$@"; do
  case "$arg" in
    --tests)
      packages+=(chromium faketime)
      # A node and npm already there (from NodeSource, say) are kept: Debian's
      # npm package would fight them.
      command -v node >/dev/null || packages+=(nodejs)
      command -v npm >/dev/null || packages+=(npm) ;;
    --bench) packages+=(redis-server etcd-server postgresql wrk) ;;
    *) echo "install-deps: unknown option $arg (known: --tests, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "==> installing missing Debian packages: ${missing[*]}"
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# The comparison starts its own PostgreSQL: no "main" cluster on port 5432.
if [[ " ${missing[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/placemesh.conf >/dev/null
fi
# The package lists may be missing or stale on a fresh machine.
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "==> installed ${missing[*]}"
