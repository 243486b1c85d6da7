#!/usr/bin/env bash
# The control plane at fleet size: starts C kgw-coordinators (a fresh gateway cluster id, so a
# fresh group and assignments topic) against the Kafka cluster that cluster.env describes, runs
# kgw-fleet-sim SCENARIO with N simulated agents (and M sidecars) against them, samples the
# coordinators, and stops them. The table goes to stderr, the JSON to OUT.json. See
# docs/benchmarks.md.
#
#   bench/fleet-scale.sh [--coordinators C] [--agents N] [--sidecars M] [--scenario S]
#                        [--cluster-key] [--out OUT] [-- SIM_ARGS]
#
# --cluster-key gives the coordinators and the simulated agents a fresh cluster key
# (GATEWAY_CLUSTER_KEY_FILE, OUT.key): everything is signed and verified as in a keyed
# deployment, and a leader assigns an agent from its proven stream before the group lists it.
#
# Needs a plain build (build/bin) and a cluster started by tests/kafka/kafka-cluster.sh; its
# environment file is $KGW_KAFKA_DIR/cluster.env (default /tmp/kgw-kafka). Coordinators use
# gRPC ports 21921.. and HTTP ports 21831.. on 127.0.0.1; their logs go next to OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
coordinators=1 agents=100 sidecars=0 scenario=join-leave out="fleet" keyed=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --coordinators) coordinators="$2"; shift 2 ;;
    --agents) agents="$2"; shift 2 ;;
    --sidecars) sidecars="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cluster-key) keyed=1; shift ;;
    --) shift; break ;;
    *) echo "fleet-scale: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/fleet-lib.sh
source "$ROOT/bench/fleet-lib.sh"
fleet_source_cluster fleet-scale
bin="$ROOT/build/bin"
cid="fleet-$(date +%s)"
trap fleet_stop_coordinators EXIT
key_args=()
if ((keyed)); then
  openssl rand -base64 48 > "$out.key"
  export FLEET_CLUSTER_KEY_FILE="$out.key"
  key_args=(--cluster-key-file "$out.key")
fi
fleet_start_coordinators fleet-scale "$bin" "$coordinators" "$cid" bench-coord- \
  21920 21830 "$out.coordinator-"
endpoints="$(for i in $(seq 1 "$coordinators"); do printf '127.0.0.1:%d,' $((21920 + i)); done)"
"$bin/kgw-fleet-sim" "$scenario" --cluster-id "$cid" --agents "$agents" \
  --sidecars "$sidecars" --coordinators "${endpoints%,}" \
  --coordinator-pids "$(IFS=,; echo "${fleet_coordinators[*]}")" "${key_args[@]}" --json "$@" \
  > "$out.json"
