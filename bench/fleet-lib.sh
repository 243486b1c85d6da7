# Shared by bench/fleet-scale.sh and bench/real-fleet.sh (sourced, not run): the test cluster's
# environment, and kgw-coordinators of a fresh gateway cluster on 127.0.0.1.

# Sources $KGW_KAFKA_DIR/cluster.env (default /tmp/kgw-kafka); NAME prefixes the error.
fleet_source_cluster() { # NAME
  local env_file="${KGW_KAFKA_DIR:-/tmp/kgw-kafka}/cluster.env"
  if [[ ! -r "$env_file" ]]; then
    echo "$1: no $env_file: start tests/kafka/kafka-cluster.sh" >&2
    exit 2
  fi
  set -a
  # shellcheck disable=SC1090
  source "$env_file"
  set +a
}

# Starts COUNT coordinators of cluster CID, coordinator i with node id NODE_PREFIXi, gRPC port
# GRPC_BASE+i, HTTP port HTTP_BASE+i and its log in LOG_PREFIXi.log, and waits until each is
# ready. Their pids are appended to fleet_coordinators; fleet_stop_coordinators stops them.
# With FLEET_CLUSTER_KEY_FILE set, that is their GATEWAY_CLUSTER_KEY_FILE.
fleet_coordinators=()
fleet_start_coordinators() { # NAME BIN COUNT CID NODE_PREFIX GRPC_BASE HTTP_BASE LOG_PREFIX
  local name="$1" bin="$2" count="$3" cid="$4" node="$5" grpc="$6" http="$7" log="$8" i
  for i in $(seq 1 "$count"); do
    GATEWAY_CLUSTER_ID="$cid" GATEWAY_NODE_ID="$node$i" \
      KAFKA_BOOTSTRAP_SERVERS="$KGW_KAFKA_BOOTSTRAP" GATEWAY_ADVERTISED_HOST=127.0.0.1 \
      GATEWAY_GRPC_BIND_HOST=127.0.0.1 GATEWAY_GRPC_PORT=$((grpc + i)) \
      GATEWAY_HTTP_PORT=$((http + i)) GATEWAY_CLUSTER_KEY_FILE="${FLEET_CLUSTER_KEY_FILE:-}" \
      "$bin/kgw-coordinator" > "$log$i.log" 2>&1 &
    fleet_coordinators+=($!)
  done
  for i in $(seq 1 "$count"); do
    until curl -sf "http://127.0.0.1:$((http + i))/health/ready" > /dev/null; do
      if ! kill -0 "${fleet_coordinators[$((i - 1))]}" 2>/dev/null; then
        echo "$name: coordinator $i exited; see $log$i.log" >&2
        exit 1
      fi
      sleep 0.5
    done
  done
}

fleet_stop_coordinators() {
  local p
  for p in "${fleet_coordinators[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${fleet_coordinators[@]}"; do wait "$p" 2>/dev/null || true; done
}
