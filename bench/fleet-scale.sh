#!/usr/bin/env bash
# The control plane at fleet size: starts C kgw-coordinators (a fresh gateway cluster id, so a
# fresh group and assignments topic) against the Kafka cluster that cluster.env describes, runs
# kgw-fleet-sim SCENARIO with N simulated agents against them, samples the coordinators, and
# stops them. The table goes to stderr, the JSON to OUT.json. See docs/benchmarks.md.
#
#   bench/fleet-scale.sh [--coordinators C] [--agents N] [--scenario S] [--out OUT] [-- SIM_ARGS]
#
# Needs a plain build (build/bin) and a cluster started by tests/kafka/kafka-cluster.sh; its
# environment file is $KGW_KAFKA_DIR/cluster.env (default /tmp/kgw-kafka). Coordinators use
# gRPC ports 21921.. and HTTP ports 21831.. on 127.0.0.1; their logs go next to OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
coordinators=1 agents=100 scenario=join-leave out="fleet"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --coordinators) coordinators="$2"; shift 2 ;;
    --agents) agents="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "fleet-scale: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
env_file="${KGW_KAFKA_DIR:-/tmp/kgw-kafka}/cluster.env"
if [[ ! -r "$env_file" ]]; then
  echo "fleet-scale: no $env_file: start tests/kafka/kafka-cluster.sh" >&2
  exit 2
fi
set -a
# shellcheck disable=SC1090
source "$env_file"
set +a
bin="$ROOT/build/bin"
cid="fleet-$(date +%s)"
pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT
for i in $(seq 1 "$coordinators"); do
  GATEWAY_CLUSTER_ID="$cid" GATEWAY_NODE_ID="bench-coord-$i" \
    KAFKA_BOOTSTRAP_SERVERS="$KGW_KAFKA_BOOTSTRAP" GATEWAY_ADVERTISED_HOST=127.0.0.1 \
    GATEWAY_GRPC_BIND_HOST=127.0.0.1 GATEWAY_GRPC_PORT=$((21920 + i)) \
    GATEWAY_HTTP_PORT=$((21830 + i)) \
    "$bin/kgw-coordinator" > "$out.coordinator-$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 "$coordinators"); do
  until curl -sf "http://127.0.0.1:$((21830 + i))/health/ready" > /dev/null; do
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null ||
      { echo "fleet-scale: coordinator $i exited; see $out.coordinator-$i.log" >&2; exit 1; }
    sleep 0.5
  done
done
"$bin/kgw-fleet-sim" "$scenario" --cluster-id "$cid" --agents "$agents" \
  --coordinator-pids "$(IFS=,; echo "${pids[*]}")" --json "$@" > "$out.json"
