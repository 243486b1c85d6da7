#!/usr/bin/env bash
# The README's test command, and all that CI runs (.ci/run calls it).
# Installs dependencies, builds plain, with ASan+UBSan and the libFuzzer
# targets, runs the unit tests of both builds, runs every codec fuzz target for
# a bounded time (KGW_FUZZ_SECONDS, default 5), starts the real Kafka cluster
# (with SASL and TLS listeners), runs the end-to-end tests of both builds
# against it (the sanitizer build leaves out the few labelled plain_only), and
# stops the cluster whatever happens. Exits non-zero on any
# failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The test cluster has its own state dir and ports so it never collides with
# a local cluster started by scripts/local.sh.
export KGW_KAFKA_DIR="${KGW_KAFKA_DIR:-/tmp/kgw-kafka-test}"
export KGW_KAFKA_PORT_BASE="${KGW_KAFKA_PORT_BASE:-29090}"
# A forgotten test cluster stops itself after an hour.
export KGW_KAFKA_TTL="${KGW_KAFKA_TTL:-3600}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export GTEST_COLOR=no

SECONDS=0
step() { printf '\n==> [%4ds] %s\n' "$SECONDS" "$*"; }

passed=0
failed=0
status=0
# Runs ctest with the given arguments and adds its counts to the totals.
run_ctest() {
  local out rc=0
  out="$(mktemp)"
  ctest --output-on-failure --no-tests=error "$@" 2>&1 | tee "$out" || rc=$?
  local line
  line="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -1 || true)"
  if [[ -n "$line" ]]; then
    local total nfail
    nfail="$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")"
    total="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")"
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
  fi
  rm -f "$out"
  if ((rc != 0)); then status=1; fi
}

step "installing dependencies"
"$ROOT/scripts/install-deps.sh"

step "building (plain)"
"$ROOT/scripts/build.sh"
step "building (ASan+UBSan)"
"$ROOT/scripts/build.sh" --asan
step "building fuzz targets (clang, libFuzzer, ASan+UBSan)"
"$ROOT/scripts/fuzz.sh" --build-only

step "unit tests (plain)"
run_ctest --test-dir build -L unit
step "unit tests (ASan+UBSan)"
run_ctest --test-dir build-asan -L unit
step "fuzzing each codec target for ${KGW_FUZZ_SECONDS:-5}s"
# Each target runs on one core for a fixed time: one per core at once.
run_ctest --test-dir build-fuzz -L fuzz -j "$(nproc)"

cluster() { "$ROOT/tests/kafka/kafka-cluster.sh" "$@"; }
# Stops the cluster and checks that every process it started is gone: the
# harness promises to leave nothing behind, and this holds it to that.
stop_cluster() {
  step "stopping Kafka"
  local pids
  pids="$(cat "$KGW_KAFKA_DIR"/node-*/pid "$KGW_KAFKA_DIR"/watchdog.pid 2>/dev/null || true)"
  cluster stop || status=1
  for pid in $pids; do
    # A zombie awaiting its reaper has ended; only a running process counts.
    local state
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    if [[ -n "$state" && "$state" != Z ]]; then
      echo "kafka harness left process $pid running after stop" >&2
      status=1
    fi
  done
}
# Keep a failing command's exit code (set -e) when it is the reason we exit.
trap 'rc=$?; stop_cluster; if ((rc == 0)); then rc=$status; fi; exit "$rc"' EXIT

step "starting Kafka (3 brokers, racks a/b/c, SASL and TLS listeners, ACLs enforced where set, a relay listener for the benchmark's HAProxy)"
cluster start --security --authorizer --relay "127.0.0.1:${KGW_KAFKA_RELAY_PORT:-29800}"
set -a
# shellcheck disable=SC1091
source "$KGW_KAFKA_DIR/cluster.env"
set +a

step "end-to-end tests (plain)"
run_ctest --test-dir build -L e2e
step "end-to-end tests (ASan+UBSan)"
run_ctest --test-dir build-asan -L e2e

trap - EXIT
stop_cluster
step "done in ${SECONDS}s"
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
