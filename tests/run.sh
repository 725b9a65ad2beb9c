#!/usr/bin/env bash
# Builds placemesh and runs every test, twice: a normal build, then one with
# AddressSanitizer + UBSan; then runs each libFuzzer target for a short
# while. Installs the Debian packages it needs first.
#
#   ./tests/run.sh                 everything (what CI runs)
#   ./tests/run.sh --no-sanitize   skip the sanitizer build and fuzzing (refused in CI)
#   ./tests/run.sh -R ledger       pass ctest options through (both builds)
#   ./tests/run.sh -L unit         only the unit tests: seconds, no processes (also -L system, -L sim)
#
# Environment: BUILD_DIR (default ./build), JOBS (default nproc),
# RC_PARAMS (RapidCheck, default max_success=300), FUZZ_SECONDS (per target, 15),
# PLACEMESH_SIM_SEED (the simulator's randomized slice; default: a fresh one
# each run, printed; the sanitizer build runs the slice from SEED+1000).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sanitize=1
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-sanitize) sanitize=0 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ctest_args+=("$1") ;;
  esac
  shift
done
if [ "${CI:-}" = "true" ] && [ "$sanitize" = 0 ]; then
  echo "run.sh: --no-sanitize is for local runs; CI always runs the sanitizer build" >&2
  exit 2
fi

"$root/deploy/install-deps.sh" --tests
# playwright-core for the browser test, exactly as locked (npm registry).
if [ ! -f "$root/tests/browser/node_modules/.package-lock.json" ] ||
   ! cmp -s "$root/tests/browser/package-lock.json" "$root/tests/browser/node_modules/.placemesh-lock"; then
  echo "==> npm ci in tests/browser"
  (cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error &&
   cp package-lock.json node_modules/.placemesh-lock)
fi

jobs=${JOBS:-$(nproc)}
build=${BUILD_DIR:-$root/build}
export RC_PARAMS=${RC_PARAMS:-max_success=300}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A fresh slice of the simulator's workload space every run (issue 13).
sim_seed=${PLACEMESH_SIM_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000000 ))}
echo "==> simulator slice from seed $sim_seed (replay: PLACEMESH_SIM_SEED=$sim_seed ./tests/run.sh -R randomized)"

run_build() {  # name, dir, slice seed, cmake options...
  local name=$1 dir=$2
  export PLACEMESH_SIM_SEED=$3
  shift 3
  echo "==> $name build in $dir"
  cmake -S "$root" -B "$dir" -DPLACEMESH_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "==> $name tests"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" ${ctest_args[@]+"${ctest_args[@]}"})
}

start=$(date +%s)
run_build normal "$build" "$sim_seed" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$sanitize" = 1 ]; then
  run_build sanitizer "$build-asan" "$((sim_seed + 1000))" -DCMAKE_BUILD_TYPE=Debug -DPLACEMESH_SANITIZE=ON
  "$root/tests/fuzz/run.sh" "${FUZZ_SECONDS:-15}"
else
  echo "==> sanitizer build and fuzzing skipped (--no-sanitize)"
fi
echo "==> all tests passed in $(( $(date +%s) - start )) s"
