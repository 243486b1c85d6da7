#!/usr/bin/env bash
# A throwaway three-node Apache Kafka cluster (KRaft, combined broker+controller
# nodes) on 127.0.0.1 for kgw's integration tests and benchmarks.
#
#   tests/kafka/kafka-cluster.sh start|stop|status [options]     (--help for all)
#   tests/kafka/kafka-cluster.sh stop-node|start-node ID [options]
#
# The brokers run straight from the Maven-resolved jars (see pom.xml next to this
# file), so no Kafka distribution has to be downloaded or installed. With
# --security they also open SASL and TLS listeners, and with --authorizer they
# enforce ACLs on the resources that have some (everything else stays open).
set -euo pipefail

SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
readonly SCRIPT
readonly SCRIPT_DIR="${SCRIPT%/*}"
readonly POM="$SCRIPT_DIR/pom.xml"
readonly NODES=(1 2 3)
readonly RACKS=(- a b c) # indexed by node id
# admin is a super user under --authorizer; alice stands for an ordinary user
# (KGW_KAFKA_SASL_USER); mallory is a second principal, for ACL tests
# (KGW_KAFKA_SASL_OTHER_USER).
readonly USERS=(admin alice mallory)
readonly PASSWORDS=(admin-secret alice-secret mallory-secret)
readonly AUTHORIZER_CLASS=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# PLAINTEXT and CONTROLLER (inter-broker and controller traffic, and PLAINTEXT
# clients) authenticate nobody: their principal is ANONYMOUS.
readonly SUPER_USERS="User:ANONYMOUS;User:${USERS[0]}"
readonly WATCHDOG_TAG=kgw-kafka-watchdog
readonly NODE_STOP_TIMEOUT=60 # seconds stop-node waits after SIGTERM

usage() {
	cat <<EOF
Usage: ${0##*/} start|stop|status [options]
       ${0##*/} stop-node|start-node ID [options]

Runs a three-node Apache Kafka cluster (KRaft, every node both broker and
controller, racks a/b/c) on 127.0.0.1 for tests.

Commands:
  start    Fetch the broker jars if not cached, format fresh storage and start
           the three nodes; wait until all brokers are registered. If the
           cluster is already up, only report it. The last line on stdout is
           the PLAINTEXT bootstrap list; everything else goes to stderr.
  stop     Stop the nodes and the watchdog that this harness started (from the
           pid files in the state dir). Succeeds quietly when nothing runs.
  status   Print id, rack, pid and liveness of each node, then the bootstrap
           list. Exits 0 only if all nodes are alive and registered.
  stop-node ID
           Stop only node ID (1-3) of the running cluster: SIGTERM, then
           SIGKILL if it is still there after $NODE_STOP_TIMEOUT s. Its data is kept.
  start-node ID
           Start node ID again with the command line it was first started
           with (same config, data and log files); wait until it is
           registered and back in the ISR of its partitions (--timeout).

Options (each overrides the environment variable named after it):
  --dir DIR          State dir: configs, data, logs, pids, certificates.
                     [KGW_KAFKA_DIR, default /tmp/kgw-kafka]
  --port-base N      Listener ports are N+id (PLAINTEXT), N+100+id
                     (CONTROLLER), N+200+id (SASL_PLAINTEXT), N+300+id (SSL),
                     N+400+id (SASL_SSL), N+500+id (MTLS: SSL with client
                     certificates required).
                     [KGW_KAFKA_PORT_BASE, default 19090]
  --heap SIZE        Java heap per node, used for -Xms and -Xmx.
                     [KGW_KAFKA_HEAP, default 384m]
  --security         Also open SASL_PLAINTEXT and SASL_SSL (PLAIN,
                     SCRAM-SHA-256/512), SSL and MTLS listeners, with generated
                     certificates.
                     [KGW_KAFKA_SECURITY=1, default off]
  --authorizer       Run Kafka's StandardAuthorizer on every node (needs
                     --security). Super users: User:ANONYMOUS (the PLAINTEXT
                     and CONTROLLER listeners, so inter-broker traffic and
                     PLAINTEXT clients) and User:admin. Resources without ACLs
                     stay open to everyone (allow.everyone.if.no.acl.found), so
                     only what a test puts ACLs on is restricted.
                     [KGW_KAFKA_AUTHORIZER=1, default off]
  --timeout SECS     Give up if the cluster is not ready after SECS seconds.
                     [KGW_KAFKA_START_TIMEOUT, default 120]
  --ttl SECS         A watchdog stops the cluster SECS seconds after start.
                     [KGW_KAFKA_TTL, default 10800]
  --relay HOST:PORT  Also open a plaintext RELAY listener on N+600+id that
                     advertises broker id as HOST:PORT+id, for a plain TCP
                     proxy (HAProxy in the benchmark) that listens at
                     HOST:PORT+id and forwards to 127.0.0.1:N+600+id; and a
                     second one, TLSRELAY, on N+700+id advertising
                     HOST:PORT+10+id, for a proxy that ends TLS there;
                     and a third, SPLICERELAY, on N+800+id advertising
                     HOST:PORT+20+id, for a second plain proxy beside
                     the first (HAProxy with splice-auto).
                     [KGW_KAFKA_RELAY, default none]
  -h, --help         Show this help.

Other environment:
  KGW_CACHE_DIR      Jar cache root [default \${XDG_CACHE_HOME:-\$HOME/.cache}/kgw];
                     jars go to KGW_CACHE_DIR/kafka-VERSION/libs.
  KGW_KAFKA_JAVA_OPTS  Extra JVM options for each node (word-split).
  KGW_KAFKA_CDS      1 (default) keeps a class-data-sharing archive of the
                     broker's classes next to the jar cache, recorded by the
                     first run and used by later ones to start faster; 0 = off.
  JAVA_HOME          If set, \$JAVA_HOME/bin/java is used instead of java.

Users (with --security): admin/admin-secret, alice/alice-secret and
mallory/mallory-secret, for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. After
start, DIR/cluster.env holds the bootstrap lists, certificate paths and
credentials as KEY=value lines.
EOF
}

log() { printf 'kafka-cluster: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# ---------------------------------------------------------------- options ---

CMD=""
NODE_ID=""
DIR="${KGW_KAFKA_DIR:-/tmp/kgw-kafka}"
PORT_BASE="${KGW_KAFKA_PORT_BASE:-19090}"
HEAP="${KGW_KAFKA_HEAP:-384m}"
SECURITY="${KGW_KAFKA_SECURITY:-0}"
AUTHORIZER="${KGW_KAFKA_AUTHORIZER:-0}"
START_TIMEOUT="${KGW_KAFKA_START_TIMEOUT:-120}"
TTL="${KGW_KAFKA_TTL:-10800}"
CDS="${KGW_KAFKA_CDS:-1}"
RELAY="${KGW_KAFKA_RELAY:-}"
CACHE_ROOT="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
	case $1 in
	start | stop | status | stop-node | start-node)
		[[ -z $CMD ]] || die "only one command allowed (got '$CMD' and '$1')"
		CMD=$1
		;;
	[0-9]*)
		[[ $CMD == *-node && -z $NODE_ID ]] || die "unexpected argument '$1' (see --help)"
		NODE_ID=$1
		;;
	--dir)
		need_arg "$@"
		DIR=$2
		shift
		;;
	--dir=*) DIR=${1#*=} ;;
	--port-base)
		need_arg "$@"
		PORT_BASE=$2
		shift
		;;
	--port-base=*) PORT_BASE=${1#*=} ;;
	--heap)
		need_arg "$@"
		HEAP=$2
		shift
		;;
	--heap=*) HEAP=${1#*=} ;;
	--timeout)
		need_arg "$@"
		START_TIMEOUT=$2
		shift
		;;
	--timeout=*) START_TIMEOUT=${1#*=} ;;
	--ttl)
		need_arg "$@"
		TTL=$2
		shift
		;;
	--ttl=*) TTL=${1#*=} ;;
	--security) SECURITY=1 ;;
	--authorizer) AUTHORIZER=1 ;;
	--relay)
		need_arg "$@"
		RELAY=$2
		shift
		;;
	--relay=*) RELAY=${1#*=} ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown option or command '$1' (see --help)" ;;
	esac
	shift
done

[[ -n $CMD ]] || {
	usage >&2
	exit 2
}
if [[ $CMD == *-node ]]; then
	[[ " ${NODES[*]} " == *" $NODE_ID "* ]] || die "$CMD needs a node id (${NODES[*]}), not '${NODE_ID}'"
fi
[[ $CDS == 0 || $CDS == 1 ]] || die "KGW_KAFKA_CDS must be 0 or 1, not '$CDS'"
case $SECURITY in
1 | true | yes | on) SECURITY=1 ;;
0 | false | no | off | "") SECURITY=0 ;;
*) die "KGW_KAFKA_SECURITY must be 0 or 1, not '$SECURITY'" ;;
esac
case $AUTHORIZER in
1 | true | yes | on) AUTHORIZER=1 ;;
0 | false | no | off | "") AUTHORIZER=0 ;;
*) die "KGW_KAFKA_AUTHORIZER must be 0 or 1, not '$AUTHORIZER'" ;;
esac
# Without SASL every client is ANONYMOUS, a super user: ACLs would test nothing.
if ((AUTHORIZER && !SECURITY)) && [[ $CMD == start ]]; then
	die "--authorizer needs --security (ACLs name SASL users; without them every client is a super user)"
fi
if ! [[ $PORT_BASE =~ ^[0-9]+$ ]] || ((PORT_BASE < 1024 || PORT_BASE + 803 > 65535)); then
	die "port base must be a number from 1024 to 64732, not '$PORT_BASE'"
fi
RELAY_HOST="" RELAY_PORT=""
if [[ -n $RELAY ]]; then
	[[ $RELAY =~ ^([A-Za-z0-9.-]+):([0-9]+)$ ]] || die "--relay must be HOST:PORT, not '$RELAY'"
	RELAY_HOST=${BASH_REMATCH[1]} RELAY_PORT=${BASH_REMATCH[2]}
	((RELAY_PORT >= 1 && RELAY_PORT + 23 <= 65535)) || die "--relay port must leave room for 23 ports, not '$RELAY_PORT'"
fi
[[ $HEAP =~ ^[0-9]+[kKmMgG]?$ ]] || die "heap must look like 384m or 1g, not '$HEAP'"
[[ $START_TIMEOUT =~ ^[0-9]+$ && $START_TIMEOUT -gt 0 ]] || die "timeout must be a positive number of seconds"
[[ $TTL =~ ^[0-9]+$ && $TTL -gt 0 ]] || die "ttl must be a positive number of seconds"
[[ -n $DIR ]] || die "state dir must not be empty"
# The dir ends up in log.dirs (comma-separated) and in JVM arguments, and the
# stop guard matches it inside /proc/PID/cmdline, so keep it plain.
[[ $DIR =~ ^[A-Za-z0-9._/+@~-]+$ ]] || die "state dir '$DIR' may only contain letters, digits and ._/+@~-"
DIR="$(readlink -m "$DIR")"
[[ $DIR != / ]] || die "refusing to use / as the state dir"

port() { echo $((PORT_BASE + $1 + $2)); } # port OFFSET NODE
bootstrap_for() {                        # bootstrap_for OFFSET
	local n out=""
	for n in "${NODES[@]}"; do out+="${out:+,}127.0.0.1:$(port "$1" "$n")"; done
	echo "$out"
}

# -------------------------------------------------------------- processes ---

# True if PID runs and its command line has exactly the argument ARG: a pid
# file can outlive its process and the number be reused by something else.
pid_matches() { # pid_matches PID ARG
	local pid=$1 arg=$2 state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	# A zombie still has a /proc entry but is gone for our purposes.
	state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $state != Z ]] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -Fxq -- "$arg"
}

node_dir() { echo "$DIR/node-$1"; }
node_props() { echo "$DIR/node-$1/server.properties"; }
node_pid() { cat "$DIR/node-$1/pid" 2>/dev/null || true; }
node_alive() { pid_matches "$(node_pid "$1")" "$(node_props "$1")"; }

any_alive() {
	local n
	for n in "${NODES[@]}"; do node_alive "$n" && return 0; done
	return 1
}

# kcat's metadata listing starts with " N brokers:"; a broker shows up there
# once it is registered and unfenced, so this counts ready brokers.
brokers_seen() { # brokers_seen HOST:PORT [kcat -X options...]
	local addr=$1
	shift
	kcat -L -q -b "$addr" -m 1 "$@" 2>/dev/null | sed -n 's/^ *\([0-9][0-9]*\) brokers:.*/\1/p' | head -n1
}

all_registered() {
	local n seen
	for n in "${NODES[@]}"; do
		seen=$(brokers_seen "127.0.0.1:$(port 0 "$n")") || return 1
		[[ $seen == "${#NODES[@]}" ]] || return 1
	done
	return 0
}

# Proves that the advertised credentials and certificates work before they are
# handed out. PLAIN, not SCRAM: librdkafka before 2.6.1 (Debian 12's kcat has
# 2.0.2) builds a SCRAM proof that Kafka 4 rejects. SCRAM needs no extra wait:
# its credentials come from the format step, ahead of the broker's own
# registration in the metadata log, so a registered broker already has them.
secure_listeners_ready() {
	local n
	for n in "${NODES[@]}"; do
		node_listeners_ready "$n" "${#NODES[@]}" || return 1
	done
	return 0
}

# True once each of node N's four secure listeners answers a metadata
# request (with the credentials or certificate it demands) listing at least
# WANT brokers. The four checks run side by side: each is a kcat start-up
# plus a TLS or SASL handshake, and one after another they would lengthen
# every start.
node_listeners_ready() { # node_listeners_ready NODE WANT
	local n=$1 want=$2 i seen rc=0 pids=() out
	local sasl=(-X sasl.mechanisms=PLAIN -X sasl.username="${USERS[1]}" -X sasl.password="${PASSWORDS[1]}")
	local ca=(-X ssl.ca.location="$DIR/tls/ca.pem")
	local cert=(-X ssl.certificate.location="$DIR/tls/client.pem" -X ssl.key.location="$DIR/tls/client.key")
	out=$(mktemp -d "$DIR/ready.XXXXXX")
	brokers_seen "127.0.0.1:$(port 200 "$n")" -X security.protocol=SASL_PLAINTEXT "${sasl[@]}" >"$out/0" &
	pids+=($!)
	brokers_seen "127.0.0.1:$(port 300 "$n")" -X security.protocol=SSL "${ca[@]}" >"$out/1" &
	pids+=($!)
	brokers_seen "127.0.0.1:$(port 400 "$n")" -X security.protocol=SASL_SSL "${ca[@]}" "${sasl[@]}" >"$out/2" &
	pids+=($!)
	brokers_seen "127.0.0.1:$(port 500 "$n")" -X security.protocol=SSL "${ca[@]}" "${cert[@]}" >"$out/3" &
	pids+=($!)
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || rc=1
		seen=$(cat "$out/$i")
		[[ -n $seen ]] && ((seen >= want)) || rc=1
	done
	rm -rf "$out"
	return "$rc"
}

# Byte offset per log file from which show_logs reads: start-node sets it so
# that a failed restart shows this run's lines, not those of the node's
# earlier life in the same files.
declare -A LOG_FROM=()

show_logs() { # show_logs NODE
	local d f from
	d=$(node_dir "$1")
	for f in "$d/stdout.log" "$d/server.log"; do
		[[ -s $f ]] || continue
		from=$((${LOG_FROM[$f]:-0} + 1))
		# A dying broker's last lines are mostly its orderly shutdown; the
		# cause is in the first errors.
		if grep -qE '^\[[^]]*\] (ERROR|FATAL)' < <(tail -c "+$from" "$f"); then
			printf '\n---- first errors in %s ----\n' "$f" >&2
			grep -m 3 -A 4 -E '^\[[^]]*\] (ERROR|FATAL)' < <(tail -c "+$from" "$f") >&2 || true
		fi
		printf '\n---- last 30 lines of %s ----\n' "$f" >&2
		tail -c "+$from" "$f" | tail -n 30 >&2
	done
}

# Ends the watchdog's whole process group (it is a session leader), so its
# pending sleep goes too. Not when the watchdog itself is the one stopping.
stop_watchdog() {
	local f="$DIR/watchdog.pid" pid
	pid=$(cat "$f" 2>/dev/null) || return 0
	if [[ $pid != "$$" ]] && pid_matches "$pid" "$WATCHDOG_TAG" && pid_matches "$pid" "$DIR"; then
		kill -TERM -- "-$pid" 2>/dev/null || true
		# Wait for it to be gone, so "stop returned" means nothing is left.
		local deadline=$((SECONDS + 5))
		while ((SECONDS < deadline)) && pid_matches "$pid" "$WATCHDOG_TAG"; do sleep 0.1; done
		if pid_matches "$pid" "$WATCHDOG_TAG"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
	fi
	rm -f "$f"
}

count_alive() {
	local n c=0
	for n in "${NODES[@]}"; do node_alive "$n" && c=$((c + 1)); done
	echo "$c"
}

# True once node N's broker half has finished shutting down; only the
# controller half, which needs no quorum, is then left. A node brought back
# by start-node logs to the same file, so only lines after its last start count.
broker_shut_down() {
	awk -v up="[BrokerServer id=$1] Transition from SHUTDOWN to STARTING" \
		-v down="[BrokerServer id=$1] shut down completed" \
		'index($0, up) { d = 0 } index($0, down) { d = 1 } END { exit !d }' \
		"$DIR/node-$1/server.log" 2>/dev/null
}

do_stop() {
	local n pid pids=() deadline lone_since=""
	stop_watchdog
	# All at once: each broker half asks the controller quorum for a controlled
	# shutdown, which is quick while the quorum still stands.
	for n in "${NODES[@]}"; do
		pid=$(node_pid "$n")
		if node_alive "$n"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$n:$pid")
		fi
	done
	if ((${#pids[@]} > 0)); then
		log "stopping nodes ${pids[*]%%:*}"
		deadline=$((SECONDS + 30))
		while ((SECONDS < deadline)) && any_alive; do
			# A node left alone has no quorum (2 of 3) to grant its controlled
			# shutdown and would wait five minutes for one. Its data is thrown
			# away at the next start anyway, so a short grace is enough.
			if (($(count_alive) < 2)); then
				lone_since=${lone_since:-$SECONDS}
				for n in "${NODES[@]}"; do
					if node_alive "$n" && ! broker_shut_down "$n" && ((SECONDS - lone_since >= 5)); then
						log "node $n cannot finish a controlled shutdown without a quorum; killing it"
						kill -KILL "$(node_pid "$n")" 2>/dev/null || true
					fi
				done
			fi
			sleep 0.2
		done
		for n in "${NODES[@]}"; do
			if node_alive "$n"; then
				log "node $n ignored SIGTERM for 30 s; killing it"
				kill -KILL "$(node_pid "$n")" 2>/dev/null || true
			fi
		done
		deadline=$((SECONDS + 10))
		while ((SECONDS < deadline)) && any_alive; do sleep 0.1; done
		! any_alive || die "could not stop every node; see ps for pids in $DIR/node-*/pid"
	fi
	for n in "${NODES[@]}"; do rm -f "$DIR/node-$n/pid"; done
	rm -f "$DIR/cluster.env"
}

# ------------------------------------------------------------------ status ---

# The port base a running cluster was started with (from node 1's config), so
# that status and start look at the ports actually in use.
running_port_base() {
	local p
	p=$(sed -n 's|^listeners=PLAINTEXT://127\.0\.0\.1:\([0-9]*\),.*|\1|p' "$(node_props 1)" 2>/dev/null) || true
	[[ -n $p ]] && echo $((p - 1))
	return 0
}

# Prints the node table to fd OUT and the bootstrap list to stdout.
do_status() { # do_status OUT_FD
	local out=$1 n pid state rack alive=0 registered=0 boot running
	if any_alive; then
		running=$(running_port_base)
		PORT_BASE=${running:-$PORT_BASE}
	fi
	boot=$(bootstrap_for 0)
	for n in "${NODES[@]}"; do
		pid=$(node_pid "$n")
		rack=$(sed -n 's/^broker.rack=//p' "$(node_props "$n")" 2>/dev/null || true)
		if node_alive "$n"; then
			state=alive
			alive=$((alive + 1))
		else
			state=dead
		fi
		printf 'node %s  rack %-2s pid %-8s %s\n' "$n" "${rack:--}" "${pid:--}" "$state" >&"$out"
	done
	if ((alive == ${#NODES[@]})) && all_registered; then
		registered=1
		printf 'all %d brokers registered (state dir %s)\n' "${#NODES[@]}" "$DIR" >&"$out"
	elif ((alive > 0)); then
		printf 'not all brokers registered (state dir %s)\n' "$DIR" >&"$out"
	else
		printf 'not running (state dir %s)\n' "$DIR" >&"$out"
	fi
	echo "$boot"
	((registered))
}

# ------------------------------------------------------------------- start ---

kafka_version() {
	local v
	v=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)
	[[ -n $v ]] || die "no <kafka.version> in $POM"
	echo "$v"
}

# Sets LIBS. The marker holds the pom's checksum, so an interrupted copy or a
# changed pom (e.g. another log4j version) leads to a fresh copy.
ensure_libs() {
	local version base marker sum
	version=$(kafka_version)
	base="$CACHE_ROOT/kafka-$version"
	CACHE_BASE=$base
	LIBS="$base/libs"
	marker="$base/libs.complete"
	sum=$(sha256sum "$POM" | cut -d' ' -f1)
	mkdir -p "$base"
	# Two clusters in different state dirs may share the cache.
	exec 8>"$base/.lock"
	flock 8
	if [[ $(cat "$marker" 2>/dev/null) != "$sum" ]]; then
		command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars; see scripts/install-deps.sh)"
		log "fetching Kafka $version jars into $LIBS"
		# Archived classes are only valid for the jars they came from.
		rm -rf "$LIBS" "$marker" "$base/cds"
		if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
			-DoutputDirectory="$LIBS" -DincludeScope=runtime >"$base/mvn.log" 2>&1; then
			tail -n 40 "$base/mvn.log" >&2
			die "maven could not fetch the Kafka jars (full log: $base/mvn.log)"
		fi
		compgen -G "$LIBS/kafka_2.13-$version.jar" >/dev/null || die "maven ran but $LIBS has no kafka_2.13-$version.jar"
		echo "$sum" >"$marker"
	fi
	exec 8>&-
}

# Class-data sharing: most of a node's start-up on two cores goes into
# loading and verifying a few thousand classes, three JVMs at once. A dynamic
# CDS archive (JDK 17: jcmd VM.cds dynamic_dump) taken from node 1 of an
# earlier run turns that into a memory map; measured about 30 % faster to
# "registered". The archive is tied to the JDK build (hence its hash in the
# name) and to the jars (it is dropped when they are fetched again). A JVM
# that finds it made for other jars or another JDK says so on stdout.log and
# carries on without it, but a damaged file makes it abort, so each archive
# is test-mapped before use (0.2 s). Sets CDS_USE (options for every JVM),
# CDS_RECORD (node 1) and CDS_TARGET.
prepare_cds() {
	CDS_USE=()
	CDS_RECORD=()
	CDS_TARGET=""
	((CDS)) || return 0
	local key archive
	# jcmd ships next to java in a JDK; with a bare JRE there is no recording.
	JCMD="$(dirname "$(readlink -f "$(command -v "$JAVA")")")/jcmd"
	key=$("$JAVA" -version 2>&1 | sha256sum | cut -c1-12)
	archive="$CACHE_BASE/cds/kafka-$key.jsa"
	if [[ -s $archive ]] && ! cds_usable "$archive"; then
		log "warning: the class-data archive $archive is damaged; recording a new one"
		rm -f "$archive"
	fi
	if [[ -s $archive ]]; then
		CDS_USE=("-XX:SharedArchiveFile=$archive")
	elif [[ -x $JCMD ]]; then
		CDS_RECORD=(-XX:+RecordDynamicDumpInfo)
		CDS_TARGET=$archive
	fi
}

cds_usable() { # cds_usable ARCHIVE
	local rc=0
	# In a subshell that does not exec, so bash's "Aborted" notice for a
	# crashing JVM goes to /dev/null with the rest.
	("$JAVA" -XX:SharedArchiveFile="$1" -XX:ErrorFile="$DIR/cds-check.hs_err" -cp "$LIBS/*" -version ||
		exit 1) >/dev/null 2>&1 || rc=1
	rm -f "$DIR/cds-check.hs_err"
	return "$rc"
}

# Dumping from the running node, once it is ready, rather than at JVM exit
# keeps the recording independent of how the cluster is later stopped.
record_cds() {
	[[ -n $CDS_TARGET ]] || return 0
	local tmp="$CDS_TARGET.tmp.$$" t0=$SECONDS
	mkdir -p "${CDS_TARGET%/*}"
	if "$JCMD" "$(node_pid 1)" VM.cds dynamic_dump "$tmp" >"$DIR/cds.log" 2>&1 && [[ -s $tmp ]] &&
		cds_usable "$tmp"; then
		# Renamed into place so a concurrent start never maps a partial file.
		mv -f "$tmp" "$CDS_TARGET"
		log "saved a class-data archive for faster starts in $((SECONDS - t0)) s"
	else
		rm -f "$tmp"
		log "warning: could not record a class-data archive (see $DIR/cds.log); start-up stays slower"
	fi
}

check_ports_free() { # check_ports_free NODE...
	local n off p busy=()
	local offsets=(0 100)
	((SECURITY)) && offsets+=(200 300 400 500)
	[[ -z $RELAY ]] || offsets+=(600 700 800)
	for n in "$@"; do
		for off in "${offsets[@]}"; do
			p=$(port "$off" "$n")
			# A successful connect means something already listens there.
			if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then busy+=("$p"); fi
		done
	done
	local hint="another cluster? try --port-base"
	[[ $CMD == start ]] || hint="is the node running outside this harness?"
	((${#busy[@]} == 0)) || die "ports already in use on 127.0.0.1: ${busy[*]} ($hint)"
}

gen_certs() {
	local t="$DIR/tls"
	mkdir -p "$t"
	(
		cd "$t"
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.pem \
			-subj "/CN=kgw-test-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

		openssl req -new -newkey rsa:2048 -nodes -keyout broker.key.tmp -out broker.csr -subj "/CN=localhost"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' >broker.ext
		openssl x509 -req -sha256 -days 3650 -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-extfile broker.ext -out broker.pem
		# Kafka's PEM loader reads only PKCS#8 keys. Left unencrypted: an
		# encrypted one would need PBE-SHA1-3DES, because Java 17 cannot
		# decrypt openssl's default PBES2 ("PBES2 SecretKeyFactory not available").
		openssl pkcs8 -topk8 -nocrypt -in broker.key.tmp -out broker.key
		# Kafka's PEM key store is one file: the key, then the certificate chain.
		cat broker.key broker.pem ca.pem >broker-keystore.pem

		openssl req -new -newkey rsa:2048 -nodes -keyout client.key.tmp -out client.csr -subj "/CN=kgw-test-client"
		printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
		openssl x509 -req -sha256 -days 3650 -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-extfile client.ext -out client.pem
		openssl pkcs8 -topk8 -nocrypt -in client.key.tmp -out client.key

		rm -f ./*.tmp ./*.csr ./*.ext ca.srl
		chmod 600 ./*.key broker-keystore.pem
	) >"$DIR/tls.log" 2>&1 || {
		cat "$DIR/tls.log" >&2
		die "openssl failed to generate the test certificates"
	}
}

write_log4j() {
	# One file for all nodes; each JVM passes its own node dir as a property.
	cat >"$DIR/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by tests/kafka/kafka-cluster.sh. Log4j's own shutdown hook is off
     so the broker's shutdown messages still reach the file. -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <RollingFile name="file" fileName="${sys:kgw.kafka.node.dir}/server.log"
                 filePattern="${sys:kgw.kafka.node.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="100 MB"/>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="kafka.authorizer.logger" level="WARN"/>
    <Root level="INFO">
      <AppenderRef ref="file"/>
    </Root>
  </Loggers>
</Configuration>
EOF
}

write_node_config() { # write_node_config NODE
	local n=$1 voters="" v listeners advertised protomap secure
	for v in "${NODES[@]}"; do voters+="${voters:+,}$v@127.0.0.1:$(port 100 "$v")"; done
	listeners="PLAINTEXT://127.0.0.1:$(port 0 "$n"),CONTROLLER://127.0.0.1:$(port 100 "$n")"
	advertised="PLAINTEXT://127.0.0.1:$(port 0 "$n")"
	protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	if ((SECURITY)); then
		secure="SASL_PLAINTEXT://127.0.0.1:$(port 200 "$n"),SSL://127.0.0.1:$(port 300 "$n")"
		secure+=",SASL_SSL://127.0.0.1:$(port 400 "$n"),MTLS://127.0.0.1:$(port 500 "$n")"
		listeners+=",$secure"
		advertised+=",$secure"
		protomap+=",SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,MTLS:SSL"
	fi
	if [[ -n $RELAY ]]; then
		listeners+=",RELAY://127.0.0.1:$(port 600 "$n"),TLSRELAY://127.0.0.1:$(port 700 "$n")"
		listeners+=",SPLICERELAY://127.0.0.1:$(port 800 "$n")"
		advertised+=",RELAY://$RELAY_HOST:$((RELAY_PORT + n))"
		advertised+=",TLSRELAY://$RELAY_HOST:$((RELAY_PORT + 10 + n))"
		advertised+=",SPLICERELAY://$RELAY_HOST:$((RELAY_PORT + 20 + n))"
		protomap+=",RELAY:PLAINTEXT,TLSRELAY:PLAINTEXT,SPLICERELAY:PLAINTEXT"
	fi
	mkdir -p "$DIR/node-$n/data"
	{
		cat <<EOF
# Generated by tests/kafka/kafka-cluster.sh; rewritten on every fresh start.
process.roles=broker,controller
node.id=$n
broker.rack=${RACKS[$n]}
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protomap
log.dirs=$DIR/node-$n/data

replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector
default.replication.factor=3
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
num.partitions=3
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0

# Start and react quickly: a broker is unfenced on its first heartbeat after
# catching up with the metadata log, so a shorter interval shortens start-up.
broker.heartbeat.interval.ms=500
num.recovery.threads.per.data.dir=1
EOF
		if ((AUTHORIZER)); then
			cat <<EOF

# ACLs are enforced only where some exist: a resource without any stays open
# to everyone. The listeners without authentication (inter-broker, controller,
# PLAINTEXT clients) are ANONYMOUS and, like admin, super users.
authorizer.class.name=$AUTHORIZER_CLASS
super.users=$SUPER_USERS
allow.everyone.if.no.acl.found=true
EOF
		fi
		if ((SECURITY)); then
			local plain_users="" i
			for i in "${!USERS[@]}"; do plain_users+=" user_${USERS[$i]}=\"${PASSWORDS[$i]}\""; done
			cat <<EOF

# SASL_PLAINTEXT and SASL_SSL: PLAIN users live in the JAAS lines below;
# SCRAM users were written into the metadata log when the storage was formatted.
# OAUTHBEARER takes Kafka's unsecured tokens (any subject, for tests only) and
# makes its connections re-authenticate every 2 s (KIP-368); the other
# mechanisms never expire.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
EOF
			local l
			for l in sasl_plaintext sasl_ssl; do
				cat <<EOF
listener.name.$l.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.$l.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required${plain_users};
listener.name.$l.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$l.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$l.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.$l.oauthbearer.connections.max.reauth.ms=2000
EOF
			done
			cat <<EOF

# The TLS listeners share one key store. SSL checks client certificates
# when offered, MTLS (protocol SSL) demands one, SASL_SSL asks for none.
EOF
			for l in ssl sasl_ssl mtls; do
				cat <<EOF
listener.name.$l.ssl.keystore.type=PEM
listener.name.$l.ssl.keystore.location=$DIR/tls/broker-keystore.pem
listener.name.$l.ssl.truststore.type=PEM
listener.name.$l.ssl.truststore.location=$DIR/tls/ca.pem
EOF
			done
			cat <<EOF
listener.name.ssl.ssl.client.auth=requested
listener.name.sasl_ssl.ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
EOF
		fi
	} >"$(node_props "$n")"
}

format_storage() {
	local cluster_id n i m rc=0 pids=()
	local scram=()
	# KRaft wants a UUID in Kafka's base64url form: 16 bytes, no padding. One
	# in 64 such ids starts with '-', which the storage tool takes for an
	# option ("expected one argument"); Kafka's own generator draws again
	# then, and so does this.
	cluster_id=-
	while [[ "$cluster_id" == -* ]]; do
		cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
	done
	if ((SECURITY)); then
		for i in "${!USERS[@]}"; do
			for m in SCRAM-SHA-256 SCRAM-SHA-512; do
				scram+=(--add-scram "$m=[name=${USERS[$i]},password=${PASSWORDS[$i]}]")
			done
		done
	fi
	for n in "${NODES[@]}"; do
		# A short-lived tool: C1 alone compiles enough, and it shares most
		# classes with the broker, so the broker's CDS archive helps it too.
		"$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 "${CDS_USE[@]}" \
			-Dlog4j2.configurationFile="$DIR/log4j2.xml" -Dkgw.kafka.node.dir="$DIR/node-$n" \
			-cp "$LIBS/*" kafka.tools.StorageTool format --config "$(node_props "$n")" \
			--cluster-id "$cluster_id" "${scram[@]}" >"$DIR/node-$n/format.log" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			rc=1
			log "formatting node ${NODES[$i]} failed:"
			cat "$DIR/node-${NODES[$i]}/format.log" >&2
		fi
	done
	((rc == 0)) || die "could not format KRaft storage"
	log "formatted storage after $((SECONDS - START_T0)) s, cluster id $cluster_id"
}

# Runs CMD... detached in its own session; the child records its own pid (it
# execs, so that is the pid of CMD) because $! may belong to a forked setsid.
launch() { # launch PIDFILE LOGFILE CMD...
	local pidfile=$1 logfile=$2 deadline
	shift 2
	rm -f "$pidfile"
	# fd 9 (our lock) must not leak, or a live broker would hold it forever.
	# shellcheck disable=SC2016 # expanded by the child shell
	setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" \
		</dev/null >>"$logfile" 2>&1 9>&- &
	deadline=$((SECONDS + 10))
	until [[ -s $pidfile ]]; do
		((SECONDS < deadline)) || die "process for $pidfile did not start"
		sleep 0.05
	done
}

launch_watchdog() {
	# The tag and the dir are separate arguments so that stop can recognise
	# this process by its command line before signalling it.
	# shellcheck disable=SC2016 # expanded by the child shell
	launch "$DIR/watchdog.pid" "$DIR/watchdog.log" \
		bash -c 'sleep "$2" && exec "$3" stop --dir "$1"' "$WATCHDOG_TAG" "$DIR" "$TTL" "$SCRIPT"
}

launch_node() { # launch_node NODE
	local n=$1 d
	d=$(node_dir "$n")
	local opts=(
		"-Xms$HEAP" "-Xmx$HEAP"
		# Kafka's own defaults from kafka-run-class.sh: G1 with short pauses.
		-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
		-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15
		-Djava.awt.headless=true
		-Dlog4j2.configurationFile="$DIR/log4j2.xml" -Dkgw.kafka.node.dir="$d"
	)
	local extra=()
	# Word splitting is the documented contract of KGW_KAFKA_JAVA_OPTS.
	read -r -a extra <<<"${KGW_KAFKA_JAVA_OPTS:-}"
	opts+=("${CDS_USE[@]}")
	if ((n == 1)); then opts+=("${CDS_RECORD[@]}"); fi
	local cmd=("$JAVA" "${opts[@]}" "${extra[@]}" -cp "$LIBS/*" kafka.Kafka "$(node_props "$n")")
	# Kept (NUL-separated) so that start-node brings the node back exactly as
	# it was, whatever options or environment that later call is given.
	printf '%s\0' "${cmd[@]}" >"$d/command"
	launch "$d/pid" "$d/stdout.log" "${cmd[@]}"
}

write_env() {
	local f="$DIR/cluster.env"
	{
		echo "# Written by tests/kafka/kafka-cluster.sh start; removed by stop."
		echo "KGW_KAFKA_BOOTSTRAP=$(bootstrap_for 0)"
		# The broker's jars include kafka-clients: tests may run Java clients from them.
		echo "KGW_KAFKA_LIBS=$LIBS"
		# Where this cluster lives, for tests that stop and start single nodes.
		echo "KGW_KAFKA_DIR=$DIR"
		if [[ -n $RELAY ]]; then
			# The relay's own listeners (what a TCP proxy forwards to), and the
			# addresses the brokers advertise on them (where it must listen).
			echo "KGW_KAFKA_RELAY_TARGETS=$(bootstrap_for 600)"
			local n relayed=""
			for n in "${NODES[@]}"; do relayed+="${relayed:+,}$RELAY_HOST:$((RELAY_PORT + n))"; done
			echo "KGW_KAFKA_RELAY_BOOTSTRAP=$relayed"
			# The same for a proxy that ends TLS: clients speak TLS to it.
			echo "KGW_KAFKA_TLS_RELAY_TARGETS=$(bootstrap_for 700)"
			relayed=""
			for n in "${NODES[@]}"; do relayed+="${relayed:+,}$RELAY_HOST:$((RELAY_PORT + 10 + n))"; done
			echo "KGW_KAFKA_TLS_RELAY_BOOTSTRAP=$relayed"
			# A second plain relay, so two TCP proxies can be compared in one run.
			echo "KGW_KAFKA_SPLICE_RELAY_TARGETS=$(bootstrap_for 800)"
			relayed=""
			for n in "${NODES[@]}"; do relayed+="${relayed:+,}$RELAY_HOST:$((RELAY_PORT + 20 + n))"; done
			echo "KGW_KAFKA_SPLICE_RELAY_BOOTSTRAP=$relayed"
		fi
		if ((SECURITY)); then
			echo "KGW_KAFKA_SASL_BOOTSTRAP=$(bootstrap_for 200)"
			echo "KGW_KAFKA_SSL_BOOTSTRAP=$(bootstrap_for 300)"
			echo "KGW_KAFKA_SASL_SSL_BOOTSTRAP=$(bootstrap_for 400)"
			echo "KGW_KAFKA_MTLS_BOOTSTRAP=$(bootstrap_for 500)"
			echo "KGW_KAFKA_CA_FILE=$DIR/tls/ca.pem"
			echo "KGW_KAFKA_CLIENT_CERT_FILE=$DIR/tls/client.pem"
			echo "KGW_KAFKA_CLIENT_KEY_FILE=$DIR/tls/client.key"
			echo "KGW_KAFKA_SASL_USER=${USERS[1]}"
			echo "KGW_KAFKA_SASL_PASSWORD=${PASSWORDS[1]}"
			# Another principal, for tests of what the brokers refuse it.
			echo "KGW_KAFKA_SASL_OTHER_USER=${USERS[2]}"
			echo "KGW_KAFKA_SASL_OTHER_PASSWORD=${PASSWORDS[2]}"
		fi
		# Whether ACLs are enforced (see --authorizer); admin is a super user.
		if ((AUTHORIZER)); then echo "KGW_KAFKA_AUTHORIZER=1"; fi
	} >"$f.tmp"
	mv "$f.tmp" "$f"
}

fail_start() { # fail_start NODE|"" MESSAGE
	local n
	log "error: $2"
	if [[ -n $1 ]]; then
		show_logs "$1"
	else
		for n in "${NODES[@]}"; do show_logs "$n"; done
	fi
	log "stopping what was started; logs stay in $DIR"
	do_stop || true
	exit 1
}

wait_ready() {
	local deadline=$((SECONDS + START_TIMEOUT)) n phase=plain
	while :; do
		for n in "${NODES[@]}"; do
			node_alive "$n" || fail_start "$n" "node $n exited during start-up"
		done
		if [[ $phase == plain ]] && all_registered; then
			log "all ${#NODES[@]} brokers registered after $((SECONDS - START_T0)) s"
			((SECURITY)) || return 0
			phase=secure
		fi
		if [[ $phase == secure ]] && secure_listeners_ready; then
			log "SASL_PLAINTEXT, SSL, SASL_SSL and MTLS listeners answer after $((SECONDS - START_T0)) s"
			return 0
		fi
		((SECONDS < deadline)) || fail_start "" "cluster not ready after $START_TIMEOUT s (phase $phase)"
		sleep 0.5
	done
}

do_start() {
	local n tools=("$JAVA" kcat)
	if any_alive; then
		# Reuse is only right if the running cluster offers what was asked for,
		# and restarting it could pull it away from another test run: refuse.
		local running
		running=$(running_port_base)
		if [[ -n $running && $running != "$PORT_BASE" ]]; then
			die "the cluster running in $DIR uses port base $running, not $PORT_BASE; stop it first or use another --dir"
		fi
		if (($(count_alive) == ${#NODES[@]})) && all_registered; then
			if ((SECURITY)) && ! grep -q '^KGW_KAFKA_MTLS_BOOTSTRAP=' "$DIR/cluster.env" 2>/dev/null; then
				die "the cluster running in $DIR lacks the --security listeners (or some of them); stop it and start again with --security"
			fi
			if ((AUTHORIZER)) && ! grep -q '^KGW_KAFKA_AUTHORIZER=1$' "$DIR/cluster.env" 2>/dev/null; then
				die "the cluster running in $DIR runs without an authorizer; stop it and start again with --authorizer"
			fi
			log "cluster already running:"
			do_status 2
			return 0
		fi
		log "found a partly running cluster; restarting it"
		do_stop
	fi

	((SECURITY)) && tools+=(openssl)
	for n in "${tools[@]}"; do
		command -v "$n" >/dev/null || die "$n not found (see scripts/install-deps.sh)"
	done
	check_ports_free "${NODES[@]}"
	ensure_libs

	START_T0=$SECONDS
	# Only what this script creates is removed, never the dir itself: --dir
	# may point somewhere that holds other things.
	for n in "${NODES[@]}"; do rm -rf "$(node_dir "$n")"; done
	rm -rf "$DIR/tls"
	rm -f "$DIR/cluster.env" "$DIR/log4j2.xml" "$DIR/watchdog.log" "$DIR/tls.log"

	((SECURITY)) && gen_certs
	prepare_cds
	write_log4j
	for n in "${NODES[@]}"; do write_node_config "$n"; done
	format_storage

	# From here on an interrupted start must not leave brokers behind.
	trap 'fail_start "" "interrupted"' INT TERM
	# The watchdog goes first so that even a start killed right now cleans up.
	# One left over from a cluster that died without a stop would otherwise
	# cut this one short.
	stop_watchdog
	launch_watchdog
	for n in "${NODES[@]}"; do launch_node "$n"; done
	wait_ready
	trap - INT TERM
	record_cds
	write_env

	log "Kafka cluster up in $((SECONDS - START_T0)) s (state dir $DIR, stops itself after $TTL s)"
	log "  PLAINTEXT       $(bootstrap_for 0)"
	if ((SECURITY)); then
		log "  SASL_PLAINTEXT  $(bootstrap_for 200)  users ${USERS[0]}/${PASSWORDS[0]} ${USERS[1]}/${PASSWORDS[1]} ${USERS[2]}/${PASSWORDS[2]}"
		log "  SSL             $(bootstrap_for 300)  CA $DIR/tls/ca.pem"
		log "  SASL_SSL        $(bootstrap_for 400)  same users, same CA"
		log "  MTLS            $(bootstrap_for 500)  client certificate $DIR/tls/client.pem required"
	fi
	if ((AUTHORIZER)); then
		log "  authorizer      ACLs enforced where set; super users $SUPER_USERS"
	fi
	log "  environment     $DIR/cluster.env"
	log "  broker logs     $DIR/node-{1,2,3}/server.log"
	bootstrap_for 0
}

# ------------------------------------------------------------ single nodes ---

# Stops node N alone and waits until its process is gone.
stop_node() { # stop_node NODE
	local n=$1 pid grace=$NODE_STOP_TIMEOUT deadline t0=$SECONDS
	pid=$(node_pid "$n")
	if node_alive "$n"; then
		# The last node standing has no quorum to grant its controlled
		# shutdown (see do_stop), so waiting the full time would be pointless.
		if (($(count_alive) == 1)); then grace=5; fi
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$((SECONDS + grace))
		while ((SECONDS < deadline)) && node_alive "$n"; do sleep 0.2; done
		if node_alive "$n"; then
			log "node $n still runs $grace s after SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			deadline=$((SECONDS + 10))
			while ((SECONDS < deadline)) && node_alive "$n"; do sleep 0.1; done
			! node_alive "$n" || die "could not stop node $n (pid $pid)"
		fi
		log "node $n (pid $pid) stopped after $((SECONDS - t0)) s"
	fi
	rm -f "$(node_dir "$n")/pid"
}

# True once node N answers a metadata request on its PLAINTEXT port, lists
# itself among the live (registered, unfenced) brokers, and is in the ISR of
# every partition it replicates that has a leader, i.e. has caught up.
node_ready() { # node_ready NODE
	local n=$1 addr
	addr="127.0.0.1:$(port 0 "$n")"
	# kcat lines: "  broker 2 at 127.0.0.1:19092" and
	# "    partition 0, leader 1, replicas: 1,2,3, isrs: 1,3".
	kcat -L -q -b "$addr" -m 2 2>/dev/null | awk -v id="$n" '
		$1 == "broker" && $2 == id && $3 == "at" { self = 1 }
		$1 == "partition" {
			leader = reps = isrs = ""
			if (match($0, /leader -?[0-9]+/)) leader = substr($0, RSTART + 7, RLENGTH - 7)
			if (match($0, /replicas: [0-9,]+/)) reps = "," substr($0, RSTART + 10, RLENGTH - 10) ","
			if (match($0, /isrs: [0-9,]+/)) isrs = "," substr($0, RSTART + 6, RLENGTH - 6) ","
			if (leader != "-1" && index(reps, "," id ",") && !index(isrs, "," id ",")) behind++
		}
		END { exit !(self && !behind) }'
}

node_secure_ready() { # node_secure_ready NODE
	node_listeners_ready "$1" 1
}

# Only a node that this start-node launched is stopped again on failure.
NODE_LAUNCHED=0

fail_node() { # fail_node NODE MESSAGE
	log "error: $2"
	show_logs "$1"
	if ((NODE_LAUNCHED)); then
		log "stopping node $1 again; logs stay in $DIR"
		stop_node "$1" || true
	fi
	exit 1
}

# Both commands act on a cluster that start brought up and stop has not
# ended: its cluster.env is the sign. Sets PORT_BASE and SECURITY from it.
require_cluster() {
	[[ -f $DIR/cluster.env ]] || die "no cluster is running from $DIR (no cluster.env; run start first)"
	PORT_BASE=$(running_port_base)
	[[ -n $PORT_BASE ]] || die "cannot read the port layout from $(node_props 1)"
	SECURITY=0
	if grep -q '^KGW_KAFKA_SASL_BOOTSTRAP=' "$DIR/cluster.env"; then SECURITY=1; fi
	if ((SECURITY)) && ! grep -q '^KGW_KAFKA_MTLS_BOOTSTRAP=' "$DIR/cluster.env"; then
		die "the cluster in $DIR was started by an older kafka-cluster.sh (no SASL_SSL/MTLS listeners); stop and start it again"
	fi
}

do_stop_node() {
	local n=$NODE_ID
	require_cluster
	if ! node_alive "$n"; then
		log "node $n is not running"
		rm -f "$(node_dir "$n")/pid"
		return 0
	fi
	log "stopping node $n"
	stop_node "$n"
}

do_start_node() {
	local n=$NODE_ID d f cmd=() t0=$SECONDS deadline
	d=$(node_dir "$n")
	require_cluster
	if node_alive "$n"; then
		log "node $n is already running (pid $(node_pid "$n"))"
	else
		[[ -s $d/command ]] || die "$d/command is missing (cluster started by an older kafka-cluster.sh?); stop and start the cluster"
		check_ports_free "$n"
		mapfile -d '' -t cmd <"$d/command"
		for f in "$d/stdout.log" "$d/server.log"; do LOG_FROM[$f]=$(stat -c %s "$f" 2>/dev/null || echo 0); done
		trap 'fail_node "$NODE_ID" "interrupted"' INT TERM
		log "starting node $n"
		NODE_LAUNCHED=1
		launch "$d/pid" "$d/stdout.log" "${cmd[@]}"
	fi
	deadline=$((SECONDS + START_TIMEOUT))
	until node_ready "$n" && { ((SECURITY == 0)) || node_secure_ready "$n"; }; do
		node_alive "$n" || fail_node "$n" "node $n exited during start-up"
		((SECONDS < deadline)) || fail_node "$n" "node $n not registered and in sync after $START_TIMEOUT s"
		sleep 0.5
	done
	trap - INT TERM
	log "node $n (pid $(node_pid "$n")) registered and in sync after $((SECONDS - t0)) s"
}

# -------------------------------------------------------------------- main ---

case $CMD in
start | stop | stop-node | start-node)
	if [[ $CMD == *-node ]]; then
		[[ -d $DIR ]] || die "no cluster is running from $DIR (no such dir; run start first)"
	fi
	mkdir -p "$DIR"
	# One start or stop at a time per state dir, so parallel test runs that
	# all call start share one cluster instead of racing to create it; the
	# watchdog's stop, too, waits for a stop-node or start-node to finish.
	exec 9>"$DIR/.lock"
	flock 9
	"do_${CMD//-/_}"
	;;
status) do_status 1 ;;
esac
