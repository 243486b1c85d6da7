#!/usr/bin/env bash
# The README's main command: a local kgw setup on this machine.
#   scripts/local.sh [up]   install, build, start the local Kafka cluster
#                           (3 brokers in racks a/b/c) and a kgw-agent in
#                           front of it, send records through the agent and
#                           read them back, and show where clients find each
#                           broker
#   scripts/local.sh down   stop the agent and the cluster
#   scripts/local.sh status
# Everything listens on loopback and stops by itself after KGW_LOCAL_TTL
# seconds (default 3 hours).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${KGW_LOCAL_DIR:-/tmp/kgw-local}"
TTL="${KGW_LOCAL_TTL:-10800}"
AGENT_PORT=6969
AGENT_HTTP_PORT=8888
cluster() { "$ROOT/tests/kafka/kafka-cluster.sh" "$@" --dir "$STATE/kafka"; }

stop_agent() {
  if [[ -f "$STATE/agent.pid" ]]; then
    local pid
    pid="$(cat "$STATE/agent.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$STATE/agent.pid"
  fi
}

case "${1:-up}" in
  up)
    "$ROOT/scripts/install-deps.sh"
    "$ROOT/scripts/build.sh"
    mkdir -p "$STATE"
    bootstrap="$(cluster start --ttl "$TTL" | tail -1)"
    echo "==> Kafka is up: $bootstrap" >&2

    stop_agent
    KAFKA_BOOTSTRAP_SERVERS="$bootstrap" GATEWAY_BIND_HOST=127.0.0.1 \
      GATEWAY_ADVERTISED_HOST=127.0.0.1 GATEWAY_PORT_START="$AGENT_PORT" \
      GATEWAY_HTTP_PORT="$AGENT_HTTP_PORT" \
      nohup timeout "$TTL" "$ROOT/build/bin/kgw-agent" >"$STATE/agent.log" 2>&1 &
    echo $! >"$STATE/agent.pid"
    for _ in $(seq 1 100); do
      if curl -fs "http://127.0.0.1:$AGENT_HTTP_PORT/health/ready" >/dev/null; then break; fi
      if ! kill -0 "$(cat "$STATE/agent.pid")" 2>/dev/null; then
        echo "kgw-agent exited; its log:" >&2
        cat "$STATE/agent.log" >&2
        exit 1
      fi
      sleep 0.2
    done
    curl -fs "http://127.0.0.1:$AGENT_HTTP_PORT/health/ready" >/dev/null
    agent="127.0.0.1:$AGENT_PORT"
    echo "==> kgw-agent is up: bootstrap.servers=$agent (log: $STATE/agent.log)" >&2

    topic="kgw-local-demo"
    seq 1 1000 | sed 's/^/hello-/' | kcat -b "$agent" -P -t "$topic" -X acks=all
    got="$(kcat -b "$agent" -C -t "$topic" -o -1000 -e -q | grep -c '^hello-' || true)"
    echo "==> sent 1000 records through the agent to topic $topic, read back $got" >&2
    [[ "$got" -ge 1000 ]]
    echo "==> where clients of the agent find each broker:" >&2
    kcat -b "$agent" -L -t "$topic" | sed -n '/brokers:/,/topics:/p' | grep broker >&2
    echo "==> metrics: http://127.0.0.1:$AGENT_HTTP_PORT/metrics; stop with: $0 down" >&2
    echo "$agent"
    ;;
  down)
    stop_agent
    cluster stop
    ;;
  status)
    if [[ -f "$STATE/agent.pid" ]] && kill -0 "$(cat "$STATE/agent.pid")" 2>/dev/null; then
      echo "kgw-agent: running (pid $(cat "$STATE/agent.pid")), ready: $(curl -s \
        "http://127.0.0.1:$AGENT_HTTP_PORT/health/ready" || echo no)"
    else
      echo "kgw-agent: not running"
    fi
    cluster status
    ;;
  *) echo "usage: $0 [up|down|status]" >&2; exit 2 ;;
esac
