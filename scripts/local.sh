#!/usr/bin/env bash
# The README's main command: a local kgw setup on this machine.
#   scripts/local.sh [up]   install, build, start the local Kafka cluster
#                           (3 brokers in racks a/b/c) and check it answers
#   scripts/local.sh down   stop it
#   scripts/local.sh status
# The gateway cluster (coordinators and agents in front of Kafka) joins this
# command as it is built; today it brings up everything the gateway needs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster() { "$ROOT/tests/kafka/kafka-cluster.sh" "$@"; }

case "${1:-up}" in
  up)
    "$ROOT/scripts/install-deps.sh"
    "$ROOT/scripts/build.sh"
    bootstrap="$(cluster start | tail -1)"
    echo "==> Kafka is up: $bootstrap" >&2
    kcat -L -b "$bootstrap" -m 10 | head -5 >&2
    "$ROOT/build/bin/kgw-agent" --version >&2
    KAFKA_BOOTSTRAP_SERVERS="$bootstrap" "$ROOT/build/bin/kgw-agent" --check-config >&2
    echo "==> stop it with: $0 down" >&2
    echo "$bootstrap"
    ;;
  down) cluster stop ;;
  status) cluster status ;;
  *) echo "usage: $0 [up|down|status]" >&2; exit 2 ;;
esac
