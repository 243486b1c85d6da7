#!/usr/bin/env bash
# The benchmark's one command: installs what it needs, builds (plain,
# optimised), starts its own 3-broker Kafka with a relay listener for HAProxy,
# runs the same workloads direct, through one kgw agent, through HAProxy in TCP
# mode, through the peer Kafka proxies (kafka-proxy, Kroxylicious) found in
# the peers directory, and over TLS ended by kgw and by HAProxy, prints a
# table and the ratios, and stops everything it
# started. Arguments go to bench/compare.py (--help lists them; --quick is a
# smoke run, --rounds N sets the measured rounds, medians reported).
# --peers-dir DIR: where bench/build-peers.sh put the peers
# [default $KGW_PEERS_DIR, else ~/.cache/kgw/peers]; a peer missing there is
# reported "not measured", with the commands that build it.
# With --hostile first, it runs bench/hostile.py instead: legitimate clients
# through one agent, alone and then under attack.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
if [[ "${1:-}" == --hostile ]]; then
  shift
  exec python3 "$ROOT/bench/hostile.py" --build-dir "$ROOT/build" "$@"
fi
exec python3 "$ROOT/bench/compare.py" --build-dir "$ROOT/build" \
  --peers-dir "${KGW_PEERS_DIR:-$HOME/.cache/kgw/peers}" "$@"
