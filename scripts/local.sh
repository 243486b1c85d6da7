#!/usr/bin/env bash
# The README's main command: a local kgw gateway cluster on this machine.
#   scripts/local.sh [up]   install, build, start the local Kafka cluster
#                           (3 brokers in racks a/b/c), two kgw-coordinators
#                           and three kgw-agents (one per rack, on 127.0.0.2,
#                           127.0.0.3 and 127.0.0.4), send records through the
#                           agents and read them back, and show the
#                           rack-aware assignment and where clients find each
#                           broker
#   scripts/local.sh down   stop the gateway nodes and the cluster
#   scripts/local.sh status
# Everything listens on loopback and stops by itself after KGW_LOCAL_TTL
# seconds (default 3 hours).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${KGW_LOCAL_DIR:-/tmp/kgw-local}"
TTL="${KGW_LOCAL_TTL:-10800}"
AGENT_PORT=6969
AGENT_HTTP_PORT=8888
# name:host:rack of each agent; coordinators are coord-1 and coord-2 on 127.0.0.1.
AGENTS=(agent-a:127.0.0.2:a agent-b:127.0.0.3:b agent-c:127.0.0.4:c)
COORDINATOR_GRPC_PORTS=(6900 6901)
COORDINATOR_HTTP_PORTS=(8800 8801)
cluster() { "$ROOT/tests/kafka/kafka-cluster.sh" "$@" --dir "$STATE/kafka"; }

stop_node() {
  local pidfile="$STATE/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
}

stop_all() {
  for a in "${AGENTS[@]}"; do stop_node "${a%%:*}"; done
  for i in 1 2; do stop_node "coord-$i"; done
}

# start_node NAME HOST HTTP_PORT BINARY [VAR=VALUE...]: starts a gateway node
# and waits until it is ready.
start_node() {
  local name=$1 host=$2 http=$3 bin=$4
  shift 4
  env "$@" GATEWAY_HTTP_PORT="$http" GATEWAY_NODE_ID="$name" \
    nohup timeout "$TTL" "$ROOT/build/bin/$bin" >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
  for _ in $(seq 1 300); do
    if curl -fs "http://$host:$http/health/ready" >/dev/null; then
      echo "==> $name is up (log: $STATE/$name.log)" >&2
      return 0
    fi
    if ! kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "$name did not become ready; its log:" >&2
  cat "$STATE/$name.log" >&2
  exit 1
}

case "${1:-up}" in
  up)
    "$ROOT/scripts/install-deps.sh"
    "$ROOT/scripts/build.sh"
    mkdir -p "$STATE"
    bootstrap="$(cluster start --ttl "$TTL" | tail -1)"
    echo "==> Kafka is up: $bootstrap" >&2

    stop_all
    common=(KAFKA_BOOTSTRAP_SERVERS="$bootstrap" GATEWAY_CLUSTER_ID=local)
    for i in 0 1; do
      start_node "coord-$((i + 1))" 127.0.0.1 "${COORDINATOR_HTTP_PORTS[$i]}" kgw-coordinator \
        "${common[@]}" GATEWAY_ADVERTISED_HOST=127.0.0.1 GATEWAY_GRPC_BIND_HOST=127.0.0.1 \
        GATEWAY_GRPC_PORT="${COORDINATOR_GRPC_PORTS[$i]}"
    done
    bootstrap_agents=()
    for a in "${AGENTS[@]}"; do
      IFS=: read -r name host rack <<<"$a"
      start_node "$name" "$host" "$AGENT_HTTP_PORT" kgw-agent "${common[@]}" \
        GATEWAY_BIND_HOST="$host" GATEWAY_ADVERTISED_HOST="$host" GATEWAY_RACK_ID="$rack" \
        GATEWAY_PORT_START="$AGENT_PORT"
      bootstrap_agents+=("$host:$AGENT_PORT")
    done
    agents="$(IFS=,; echo "${bootstrap_agents[*]}")"
    kgwctl=("$ROOT/build/bin/kgwctl" --coordinator "127.0.0.1:${COORDINATOR_GRPC_PORTS[0]}")
    # The first assignment follows the agents' group join within seconds.
    for _ in $(seq 1 100); do
      if "${kgwctl[@]}" assignment >/dev/null 2>&1; then break; fi
      sleep 0.2
    done

    topic="kgw-local-demo"
    seq 1 1000 | sed 's/^/hello-/' | kcat -b "$agents" -P -t "$topic" -X acks=all
    got="$(kcat -b "$agents" -C -t "$topic" -o -1000 -e -q | grep -c '^hello-' || true)"
    echo "==> sent 1000 records through the agents to topic $topic, read back $got" >&2
    [[ "$got" -ge 1000 ]]
    echo "==> the gateway cluster (kgwctl status, assignment):" >&2
    "${kgwctl[@]}" status >&2
    "${kgwctl[@]}" assignment >&2
    for a in "${AGENTS[@]}"; do
      IFS=: read -r name host rack <<<"$a"
      echo "==> where clients of $name (rack $rack) find each broker:" >&2
      kcat -b "$host:$AGENT_PORT" -L -t "$topic" | sed -n '/brokers:/,/topics:/p' | grep broker >&2
    done
    echo "==> admin: build/bin/kgwctl --coordinator 127.0.0.1:${COORDINATOR_GRPC_PORTS[0]} nodes;" \
      "stop with: $0 down" >&2
    echo "$agents"
    ;;
  down)
    stop_all
    cluster stop
    ;;
  status)
    for name in coord-1 coord-2 "${AGENTS[@]%%:*}"; do
      if [[ -f "$STATE/$name.pid" ]] && kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then
        echo "$name: running (pid $(cat "$STATE/$name.pid"))"
      else
        echo "$name: not running"
      fi
    done
    cluster status
    ;;
  *)
    echo "usage: $0 [up|down|status]" >&2
    exit 2
    ;;
esac
