#!/usr/bin/env bash
# Real kgw-agent processes at fleet size: starts C kgw-coordinators and N kgw-agents, agent i
# on its own loopback host 127.0.1.i (racks a, b, c in turn; one worker thread each), against
# the Kafka cluster that cluster.env describes, with a fresh gateway cluster id. Measures how
# long after the last agent started `kgwctl status` counts all N, then (with --rolling) restarts
# every agent in turn, one every --every, and counts the group generations the leader saw and
# how long until it counts N again. Prints what it measured and stops everything.
#
# While the agents restart, a client (kcat, i.e. librdkafka) asks a random agent for metadata
# over and over, under a new client id each time (agents pick per client, so each answer names
# other agents), and every broker address it is told is checked against when that agent was
# down: no client may be told about an agent that has been gone for longer than the session
# timeout, and the script says how long the longest-gone agent it was told about had been down.
# After the restart every agent is asked once: each must map every broker to a running agent
# (no assignment lost).
#
#   bench/real-fleet.sh [--agents N] [--coordinators C] [--rolling] [--every 2] [--cluster-key]
#
# --cluster-key gives the coordinators and the agents a fresh cluster key
# (GATEWAY_CLUSTER_KEY_FILE): descriptors, streams and assignments are signed and verified, as
# in a gateway cluster that authenticates its control plane (docs/security.md).
#
# N is at most 250. Needs a plain build (build/bin) and a cluster started by
# tests/kafka/kafka-cluster.sh ($KGW_KAFKA_DIR/cluster.env, default /tmp/kgw-kafka). Uses ports
# 21931.. (gRPC) and 21841.. (HTTP) on 127.0.0.1 and 24000.. on each agent's host. Logs go to
# $KGW_FLEET_DIR (default /tmp/kgw-real-fleet). The client check needs kcat.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
agents=250 coordinators=3 rolling=0 every=2 keyed=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --agents) agents="$2"; shift 2 ;;
    --coordinators) coordinators="$2"; shift 2 ;;
    --rolling) rolling=1; shift ;;
    --every) every="$2"; shift 2 ;;
    --cluster-key) keyed=1; shift ;;
    *) echo "real-fleet: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
((agents >= 1 && agents <= 250)) || { echo "real-fleet: --agents must be 1..250" >&2; exit 2; }
# shellcheck source=bench/fleet-lib.sh
source "$ROOT/bench/fleet-lib.sh"
fleet_source_cluster real-fleet
bin="$ROOT/build/bin"
dir="${KGW_FLEET_DIR:-/tmp/kgw-real-fleet}"
rm -rf "$dir"
mkdir -p "$dir"
cid="real-$(date +%s)"
key_file=""
if ((keyed)); then
  key_file="$dir/cluster.key"
  openssl rand -base64 48 > "$key_file"
  export FLEET_CLUSTER_KEY_FILE="$key_file"
fi
declare -A pid_of  # the agents'
watch_pid=""
stop() {
  [[ -n "$watch_pid" ]] && kill "$watch_pid" 2>/dev/null || true
  for p in "${pid_of[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pid_of[@]}"; do wait "$p" 2>/dev/null || true; done
  fleet_stop_coordinators
}
trap stop EXIT
now_ms() { date +%s%3N; }
say() { echo "real-fleet: $*"; }

fleet_start_coordinators real-fleet "$bin" "$coordinators" "$cid" coord- 21930 21840 "$dir/coord-"
endpoints="$(for i in $(seq 1 "$coordinators"); do echo -n "127.0.0.1:$((21930 + i)) "; done)"

start_agent() { # I
  local i="$1" racks=(a b c)
  GATEWAY_CLUSTER_ID="$cid" GATEWAY_NODE_ID="real-$i" GATEWAY_RACK_ID="${racks[$((i % 3))]}" \
    KAFKA_BOOTSTRAP_SERVERS="$KGW_KAFKA_BOOTSTRAP" GATEWAY_BIND_HOST="127.0.1.$i" \
    GATEWAY_ADVERTISED_HOST="127.0.1.$i" GATEWAY_PORT_START=24000 GATEWAY_HTTP_PORT=24900 \
    GATEWAY_WORKER_THREADS=1 GATEWAY_SHUTDOWN_DELAY_BETWEEN_BROKERS_MS=100 \
    GATEWAY_CLUSTER_KEY_FILE="$key_file" "$bin/kgw-agent" >> "$dir/agent-$i.log" 2>&1 &
  pid_of[agent-$i]=$!
}

# The number after "Agents:" in `kgwctl status`, asked of the first coordinator that answers.
agents_counted() {
  local e out
  for e in $endpoints; do
    if out="$("$bin/kgwctl" --coordinator "$e" --timeout 3s status 2>/dev/null)"; then
      awk '/^ *Agents:/ {print $2; exit}' <<< "$out"
      return
    fi
  done
  echo 0
}

wait_counted() { # N TIMEOUT_S -> prints ms waited, or fails
  local want="$1" limit="$2" t0 n
  t0="$(now_ms)"
  while true; do
    n="$(agents_counted)"
    [[ "$n" == "$want" ]] && { echo $(($(now_ms) - t0)); return 0; }
    (($(now_ms) - t0 > limit * 1000)) && { echo "timeout (last count $n)"; return 1; }
    sleep 0.5
  done
}

leader_pid() {
  local e i
  for i in $(seq 1 "$coordinators"); do
    e="127.0.0.1:$((21930 + i))"
    if "$bin/kgwctl" --coordinator "$e" --timeout 3s status 2>/dev/null |
        grep -qE "^ *Leader: +coord-$i\b"; then
      echo "${fleet_coordinators[$((i - 1))]}"
      return
    fi
  done
}

t0="$(now_ms)"
for i in $(seq 1 "$agents"); do start_agent "$i"; done
started_ms=$(($(now_ms) - t0))
say "started $agents agents in $started_ms ms$( ((keyed)) && echo ", with a cluster key")"
if ! waited="$(wait_counted "$agents" 300)"; then
  say "kgwctl status never counted $agents: $waited"
  exit 1
fi
say "kgwctl status counts $agents agents $waited ms after the last one started"
lp="$(leader_pid)"
if [[ -n "$lp" ]]; then
  say "leader (pid $lp): $(grep -E '^(Threads|VmRSS)' "/proc/$lp/status" | tr -s ' \t' ' ' |
    tr '\n' ' ')"
fi
agent_rss_kb=0
for i in $(seq 1 "$agents"); do
  rss="$(awk '/^VmRSS/ {print $2}' "/proc/${pid_of[agent-$i]}/status" 2>/dev/null || echo 0)"
  agent_rss_kb=$((agent_rss_kb + rss))
done
say "agents' RSS: $((agent_rss_kb / agents)) kB each on average"

# Asks random agents for metadata until $dir/watch.stop exists; one line per answer in
# $dir/metadata.log: "<ms> <agent asked> <host:port of each broker>...".
watch_clients() {
  local i t out
  while [[ ! -e "$dir/watch.stop" ]]; do
    i=$((RANDOM % agents + 1))
    t="$(now_ms)"
    out="$(timeout 5 kcat -b "127.0.1.$i:24000" -X "client.id=real-fleet-$t" -L -m 3 2>/dev/null |
      awk '$1 == "broker" && $3 == "at" {print $4}' | tr '\n' ' ')" || true
    [[ -n "$out" ]] && echo "$t $i $out" >> "$dir/metadata.log"
    sleep 0.1
  done
}

# Every agent asked once: each broker must be mapped to a running agent. Prints the failures.
ask_every_agent() {
  local i out
  for i in $(seq 1 "$agents"); do
    out="$(timeout 5 kcat -b "127.0.1.$i:24000" -X "client.id=real-fleet-final-$i" -L -m 3 \
      2>/dev/null |
      awk '$1 == "broker" && $3 == "at" {print $4}' | tr '\n' ' ')" || true
    echo "$i $out"
  done > "$dir/final-metadata.log"
  python3 - "$dir/final-metadata.log" "$agents" <<'PY'
import sys
path, agents = sys.argv[1], int(sys.argv[2])
bad = 0
brokers = None
for line in open(path):
    asked, *hosts = line.split()
    named = {h.rsplit(":", 1)[0] for h in hosts}
    if brokers is None and hosts:
        brokers = len(hosts)
    wrong = [h for h in named if not h.startswith("127.0.1.") or
             not 1 <= int(h.rsplit(".", 1)[1]) <= agents]
    if not hosts or wrong or (brokers and len(hosts) != brokers):
        bad += 1
        print(f"real-fleet: agent 127.0.1.{asked} answered {hosts or 'nothing'}")
print(f"real-fleet: asked every agent once: {agents - bad} of {agents} mapped all "
      f"{brokers} brokers to running agents")
sys.exit(1 if bad else 0)
PY
}

if ((rolling)); then
  command -v kcat > /dev/null || { say "the client check needs kcat (apt install kcat)"; exit 2; }
  rm -f "$dir/watch.stop" "$dir/metadata.log" "$dir/events.log"
  watch_clients &
  watch_pid=$!
  gen_before="$(grep -hoE 'generation [0-9]+: [0-9]+ members' "$dir"/coord-*.log |
    awk '{print $2}' | sort -n | tail -1 | tr -d ':')"
  t0="$(now_ms)"
  for i in $(seq 1 "$agents"); do
    t1="$(now_ms)"
    echo "$t1 stop $i" >> "$dir/events.log"
    kill -TERM "${pid_of[agent-$i]}"
    wait "${pid_of[agent-$i]}" 2>/dev/null || true
    start_agent "$i"
    echo "$(now_ms) start $i" >> "$dir/events.log"
    left=$((every * 1000 - ($(now_ms) - t1)))
    ((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
  done
  say "rolling restart of $agents agents, one every ${every}s, took $(($(now_ms) - t0)) ms"
  waited="$(wait_counted "$agents" 120)" || true
  say "kgwctl status counts $agents agents again $waited ms after the last restart"
  gen_after="$(grep -hoE 'generation [0-9]+: [0-9]+ members' "$dir"/coord-*.log |
    awk '{print $2}' | sort -n | tail -1 | tr -d ':')"
  say "group generations during the restart: ${gen_before} -> ${gen_after}"
  touch "$dir/watch.stop"
  wait "$watch_pid" 2>/dev/null || true
  watch_pid=""
  # Each answer against the agents that were down when it was given.
  python3 - "$dir/events.log" "$dir/metadata.log" "${session_timeout_ms:-10000}" <<'PY'
import sys
events, answers, session_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
down = {}  # agent -> [(stopped_ms, started_ms)]
for line in open(events):
    t, what, i = line.split()
    if what == "stop":
        down.setdefault(int(i), []).append([int(t), None])
    else:
        down[int(i)][-1][1] = int(t)
told, stale, longest = 0, 0, 0
for line in open(answers):
    t, asked, *hosts = line.split()
    t = int(t)
    told += 1
    for h in hosts:
        host = h.rsplit(":", 1)[0]
        if not host.startswith("127.0.1."):
            continue
        for stopped, started in down.get(int(host.rsplit(".", 1)[1]), []):
            if stopped <= t and (started is None or t < started):
                stale += 1
                longest = max(longest, t - stopped)
print(f"real-fleet: clients asked {told} times during the restart; {stale} broker addresses "
      f"named an agent that was down, the longest-gone of them down for {longest} ms "
      f"(session timeout {session_ms} ms)")
sys.exit(1 if longest > session_ms else 0)
PY
  ask_every_agent
fi
