#!/usr/bin/env python3
"""Runs the kgw benchmark: the same workloads direct to the brokers, through one
kgw agent, through HAProxy in TCP mode and through the two peer Kafka proxies
(kafka-proxy and Kroxylicious, built into a peers directory), and over TLS
through a kgw agent and an HAProxy that each end it, against one Kafka cluster
in one run, and prints a table plus JSON with the ratios.

Method: every target first runs a short warm-up round that is discarded; then
each measured round runs every target once, the order rotated by one target per
round; medians are reported with the min-max spread of the rounds. A workload
that fails for a target is recorded for that round and the run goes on. The
brokers' CPU time is recorded during every workload. Before the latency probe
the run waits (at most 30 s) for the brokers to be quiet. After the targets'
turns, each measured round also runs the latency probes of direct, kgw and
haproxy (and of the two TLS targets) at the same time, so that a stall of the
brokers or of the machine delays them alike.

Usually started by scripts/benchmark.sh, which installs and builds first.
See docs/benchmarks.md for the method and the results.
"""

import argparse
import glob
import json
import resource
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "tests", "kafka", "kafka-cluster.sh")
BUILD_PEERS = os.path.join(ROOT, "bench", "build-peers.sh")
DEFAULT_PEERS_DIR = os.environ.get("KGW_PEERS_DIR") or os.path.expanduser("~/.cache/kgw/peers")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

FULL = dict(records=300_000, rate=1000, seconds=20, storm=5000, idle=10_000, perf_records=300_000)
QUICK = dict(records=20_000, rate=500, seconds=3, storm=300, idle=500, perf_records=20_000)
# The discarded warm-up round: every workload but idle (memory a gateway keeps
# after idle connections close would raise the first measured round's RSS).
WARMUP = dict(records=50_000, rate=500, seconds=5, storm=500)
QUICK_WARMUP = dict(records=2_000, rate=200, seconds=1, storm=50)

# Targets whose failure is an error of the benchmark (exit code 1); a peer
# proxy failing a workload is a finding about that peer.
CORE = ("direct", "kgw", "kgw-copy", "haproxy", "haproxy-splice", "kgw-tls", "haproxy-tls")
PEERS = {"kafka-proxy": "grepplabs/kafka-proxy", "kroxylicious": "kroxylicious/kroxylicious"}
WORKLOADS = ("produce", "consume", "latency", "storm", "storm_metadata", "idle")
# Targets whose latency probes also run at the same time, once per measured
# round: a stall of the brokers or of the machine then delays every target of
# the group alike, so what differs between them is the path.
CONCURRENT_GROUPS = (("direct", "kgw", "haproxy"), ("kgw-tls", "haproxy-tls"))
# Before the latency probe, wait until the brokers' JVMs are this quiet (cores
# busy over a second), for at most this long.
SETTLE_QUIET_CORES = 0.3
SETTLE_LIMIT_S = 30


def log(msg):
    print(f"benchmark: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    """An error: a one-line message, and the detail that explains it (a
    program's stderr, a log's tail), which str() appends."""

    def __init__(self, message, detail=""):
        super().__init__(message)
        self.message = message
        self.detail = detail.strip()

    def __str__(self):
        return self.message + (f"\n{self.detail}" if self.detail else "")


# ------------------------------------------------------------------ processes


def proc_cpu_seconds(pid):
    """User + system CPU seconds of pid, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_children(pid):
    """Pids whose parent is pid."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(stat.split("/")[2]))
        except (OSError, ValueError, IndexError):
            continue
    return out


def proc_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


class Process:
    """A gateway under test: started in its own process group, killed with it.
    CPU and RSS are read from `measured_pid`: the started process, or the one
    it hands over to (Kroxylicious's start script ends in a JVM)."""

    def __init__(self, name, argv, env=None, log_path=None):
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, "w") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.measured_pid = self.proc.pid

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def find_java(self):
        """Points measured_pid at the JVM: the started process itself once its
        scripts have exec'd java, else its first java descendant."""
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop(0)
            if proc_name(pid) == "java":
                self.measured_pid = pid
                return True
            todo += proc_children(pid)
        return False

    def cpu_seconds(self):
        return proc_cpu_seconds(self.measured_pid)

    def rss_mib(self):
        with open(f"/proc/{self.measured_pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / (1 << 20)

    def tail(self, n=20):
        if not self.log_path:
            return ""
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def stop(self):
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self.log_file is not subprocess.DEVNULL:
            self.log_file.close()


def wait_for(what, check, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise Failure(f"{what}: {proc.name} exited", proc.tail())
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise Failure(f"{what}: not within {timeout} s", proc.tail() if proc else "")


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def port_open(host, port):
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


class Brokers:
    """The brokers' JVMs, found from the pid files the harness keeps in its
    state dir (node-N/pid). Their CPU time during a workload shows when the
    brokers, not the path to them, are the bound."""

    def __init__(self, kafka_dir, why_not="the cluster's state dir is unknown"):
        self.pids = {}
        self.why_not = None
        if not kafka_dir:
            self.why_not = why_not
            return
        for path in sorted(glob.glob(os.path.join(kafka_dir, "node-*", "pid"))):
            node = os.path.basename(os.path.dirname(path))
            try:
                with open(path) as f:
                    pid = int(f.read().strip())
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().decode(errors="replace")
            except (OSError, ValueError):
                continue
            if kafka_dir in cmdline:  # not a reused pid
                self.pids[node] = pid
        if not self.pids:
            self.why_not = f"no running broker found from the pid files in {kafka_dir}"

    def cpu(self):
        """CPU seconds per broker; None for one that is gone."""
        out = {}
        for node, pid in self.pids.items():
            try:
                out[node] = proc_cpu_seconds(pid)
            except OSError:
                out[node] = None
        return out

    def settle(self, quiet_cores=SETTLE_QUIET_CORES, limit_s=SETTLE_LIMIT_S):
        """Waits until the brokers are quiet: under quiet_cores busy over one
        second, at most limit_s. Returns the seconds waited and whether they
        got quiet: a latency probe should not start while the brokers still
        work off the workloads before it."""
        if not self.pids:
            return 0.0, False
        t0 = time.monotonic()
        while True:
            before = self.cpu()
            time.sleep(1)
            after = self.cpu()
            busy = sum(after[n] - before[n] for n in after
                       if after[n] is not None and before.get(n) is not None)
            waited = time.monotonic() - t0
            if busy < quiet_cores:
                return waited, True
            if waited >= limit_s:
                return waited, False


# ------------------------------------------------------------------- targets


class Target:
    """One way to reach the brokers: a bootstrap address and, for gateways, the
    process whose CPU and memory are measured."""

    def __init__(self, name, bootstrap, process=None, note="", ca_file=None):
        self.name = name
        self.bootstrap = bootstrap
        self.process = process
        self.note = note
        self.ca_file = ca_file  # clients speak TLS to it, trusting this CA

    def tls_args(self):
        return ["--ca-file", self.ca_file] if self.ca_file else []


def tls_files(state):
    """A CA and a certificate for 127.0.0.1 (ECDSA P-256) that the TLS targets
    present, made once per run with the openssl command."""
    d = os.path.join(state, "tls")
    files = {k: os.path.join(d, f) for k, f in (("ca", "ca.pem"), ("cert", "server.pem"),
                                                ("key", "server.key"), ("both", "server-all.pem"))}
    if os.path.exists(files["both"]):
        return files
    os.makedirs(d, exist_ok=True)
    ca_key, csr, ext = (os.path.join(d, f) for f in ("ca.key", "server.csr", "server.ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")

    def openssl(*argv):
        subprocess.run(["openssl", *argv], check=True, capture_output=True)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *curve, "-keyout", ca_key, "-out", files["ca"], "-days", "2",
            "-subj", "/CN=kgw benchmark CA")
    openssl("req", *curve, "-keyout", files["key"], "-out", csr, "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", csr, "-CA", files["ca"], "-CAkey", ca_key,
            "-CAcreateserial", "-out", files["cert"], "-days", "2", "-extfile", ext)
    with open(files["both"], "w") as out:
        for part in (files["cert"], files["key"]):
            with open(part) as f:
                out.write(f.read())
    return files


def start_kgw(args, cluster, state, tls=False, copy=False, base=False):
    """A kgw agent; with copy, one that copies every byte through itself
    (GATEWAY_ZERO_COPY=false), to compare with splicing in the same run;
    with base, the agent of --base-build-dir, to compare two builds."""
    name = ("kgw-tls" if tls else "kgw-copy" if copy else "kgw") + ("-base" if base else "")
    binary = os.path.join(args.base_build_dir if base else args.build_dir, "bin", "kgw-agent")
    if base and not (args.base_build_dir and os.access(binary, os.X_OK)):
        return unavailable(name, "no --base-build-dir with bin/kgw-agent")
    port_start = args.port_base + (920 if tls else 940 if copy else 900) + (60 if base else 0)
    http = args.port_base + (898 if tls else 897 if copy else 899) - (3 if base else 0)
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=cluster["KGW_KAFKA_BOOTSTRAP"],
        GATEWAY_CLUSTER_ID=f"bench{os.getpid()}",
        GATEWAY_NODE_ID="bench-agent",
        GATEWAY_BIND_HOST="127.0.0.1",
        GATEWAY_ADVERTISED_HOST="127.0.0.1",
        GATEWAY_PORT_START=str(port_start),
        GATEWAY_MIN_BROKERID="1",
        GATEWAY_HTTP_PORT=str(http),
    )
    if copy:
        env.update(GATEWAY_ZERO_COPY="false")
    ca = None
    if tls:
        files = tls_files(state)
        ca = files["ca"]
        env.update(GATEWAY_SECURITY_PROTOCOL="SSL", GATEWAY_SSL_CERT_FILE=files["cert"],
                   GATEWAY_SSL_KEY_FILE=files["key"])
    p = Process(name, [binary], env, os.path.join(state, f"{name}.log"))
    try:
        wait_for(f"{name} ready", lambda: http_ok(f"http://127.0.0.1:{http}/health/ready"),
                 60, p)
    except Failure:
        p.stop()
        raise
    return Target(name, f"127.0.0.1:{port_start}", p, ca_file=ca)


def start_haproxy(args, cluster, state, tls=False, splice=False):
    """HAProxy in TCP mode, one frontend per broker. With tls it ends the
    clients' TLS (`ssl crt`) and forwards plaintext to the brokers' TLSRELAY
    listeners, which advertise its TLS fronts. With splice it moves the bytes
    with splice(2) where it judges that worth it (`option splice-auto`),
    through the brokers' SPLICERELAY listeners."""
    name = "haproxy-tls" if tls else "haproxy-splice" if splice else "haproxy"
    haproxy = shutil.which("haproxy")
    if not haproxy:
        return Target(name, None, note="haproxy is not installed")
    relay = ("KGW_KAFKA_TLS_RELAY" if tls else "KGW_KAFKA_SPLICE_RELAY" if splice
             else "KGW_KAFKA_RELAY")
    if f"{relay}_BOOTSTRAP" not in cluster:
        return Target(name, None, note=f"the cluster has no {relay}_BOOTSTRAP (an older harness?)")
    fronts = cluster[f"{relay}_BOOTSTRAP"].split(",")
    backs = cluster[f"{relay}_TARGETS"].split(",")
    files = tls_files(state) if tls else None
    bind = f" ssl crt {files['both']}" if tls else ""
    # Settings of a plain L4 relay: TCP mode, no inspection, long timeouts, as
    # many threads as kgw has (one per core), room for the idle test.
    # Splicing HAProxy counts two descriptors per pipe against the same limit;
    # a few dozen pipes serve the workloads, whose busy connections are few.
    pipes = 64 if splice else 0
    maxconn = min(25000,
                  (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100 - 2 * pipes) // 2)
    lines = [
        "global",
        f"  maxconn {maxconn}",
        f"  nbthread {os.cpu_count()}",
    ] + ([f"  maxpipes {pipes}"] if splice else []) + [
        "defaults",
        "  mode tcp",
        "  timeout connect 5s",
        "  timeout client 10m",
        "  timeout server 10m",
        f"  maxconn {maxconn}",
    ] + (["  option splice-auto"] if splice else [])
    for i, (front, back) in enumerate(zip(fronts, backs)):
        lines += [f"listen broker{i + 1}", f"  bind {front}{bind}", f"  server b{i + 1} {back}"]
    cfg = os.path.join(state, f"{name}.cfg")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = Process(name, [haproxy, "-db", "-f", cfg], None, os.path.join(state, f"{name}.log"))
    host, port = fronts[0].rsplit(":", 1)
    try:
        wait_for(f"{name} listening", lambda: port_open(host, int(port)), 20, p)
    except Failure:
        p.stop()
        raise
    return Target(name, fronts[0], p, ca_file=files["ca"] if tls else None)


def unavailable(name, why):
    log(f"{name}: not measured: {why}")
    return Target(name, None, note=why)


def how_to_get(peer, args):
    """The commands that build a peer into the peers directory."""
    git_dir = f"{peer}.git"
    return (f"get it with: git clone --bare https://github.com/{PEERS[peer]}.git {git_dir} && "
            f"KGW_PEERS_DIR={args.peers_dir} {BUILD_PEERS} {peer} {git_dir}")


def java_major(java):
    """The major version of a java executable, or None."""
    try:
        r = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', r.stderr)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def find_java(minimum=21):
    """A java of at least the given version: $JAVA_HOME's, then the newest under
    /usr/lib/jvm, then the first on PATH."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.path.join(os.environ["JAVA_HOME"], "bin", "java"))
    candidates += sorted(glob.glob("/usr/lib/jvm/*/bin/java"), reverse=True)
    if shutil.which("java"):
        candidates.append(shutil.which("java"))
    for java in candidates:
        version = java_major(java) if os.access(java, os.X_OK) else None
        if version and version >= minimum:
            return os.path.realpath(java), version
    return None, None


def start_kafka_proxy(args, cluster, state):
    """grepplabs/kafka-proxy from the peers directory: one listener per broker,
    on loopback, HTTP endpoints off, warnings and worse logged."""
    binary = os.path.join(args.peers_dir, "bin", "kafka-proxy")
    if not os.access(binary, os.X_OK):
        return unavailable("kafka-proxy", f"no {binary}; " + how_to_get("kafka-proxy", args))
    brokers = cluster["KGW_KAFKA_BOOTSTRAP"].split(",")
    first = args.port_base + 1101
    argv = [binary, "server", "--http-disable", "--log-level", "warning",
            "--default-listener-ip", "127.0.0.1"]
    for i, b in enumerate(brokers):
        argv += ["--bootstrap-server-mapping", f"{b},127.0.0.1:{first + i}"]
    log("kafka-proxy: " + " ".join(argv))
    p = Process("kafka-proxy", argv, None, os.path.join(state, "kafka-proxy.log"))
    try:
        for i in range(len(brokers)):
            wait_for("kafka-proxy listening",
                     lambda: port_open("127.0.0.1", first + i), 30, p)
    except Failure:
        p.stop()
        raise
    return Target("kafka-proxy", f"127.0.0.1:{first}", p)


def start_kroxylicious(args, cluster, state):
    """Kroxylicious from the peers directory: one virtual cluster over the same
    brokers, a port per broker (portIdentifiesNode), no filters, 1 GiB heap."""
    script = os.path.join(args.peers_dir, "kroxylicious", "bin", "kroxylicious-start.sh")
    if not os.access(script, os.X_OK):
        return unavailable("kroxylicious", f"no {script}; " + how_to_get("kroxylicious", args))
    java, version = find_java(21)
    if not java:
        return unavailable(
            "kroxylicious", "it needs Java 21 or newer, and none is in $JAVA_HOME, under "
            "/usr/lib/jvm or on PATH; install one (e.g. a Temurin 21 JDK) or set JAVA_HOME")
    brokers = cluster["KGW_KAFKA_BOOTSTRAP"].split(",")
    port = args.port_base + 1200
    # The harness numbers its brokers 1..n; broker n listens on port + n. This
    # gateway has no bind-address setting (v0.23.0): it listens on every
    # interface, and clients use 127.0.0.1.
    config = "\n".join([
        "virtualClusters:",
        "  - name: bench",
        "    targetCluster:",
        f"      bootstrapServers: {','.join(brokers)}",
        "    gateways:",
        "      - name: loopback",
        "        portIdentifiesNode:",
        f"          bootstrapAddress: 127.0.0.1:{port}",
        "          nodeIdRanges:",
        "            - name: brokers",
        "              start: 1",
        f"              end: {len(brokers)}",
        "    logNetwork: false",
        "    logFrames: false",
    ]) + "\n"
    cfg = os.path.join(state, "kroxylicious.yaml")
    with open(cfg, "w") as f:
        f.write(config)
    # Its start script runs the first java on PATH and passes JAVA_OPTIONS on.
    env = dict(os.environ, PATH=os.path.dirname(java) + os.pathsep + os.environ["PATH"],
               JAVA_HOME=os.path.dirname(os.path.dirname(java)),
               JAVA_OPTIONS="-Xms1g -Xmx1g")
    log(f"kroxylicious: JAVA_OPTIONS='-Xms1g -Xmx1g' {script} --config {cfg} (java {version})")
    p = Process("kroxylicious", [script, "--config", cfg], env,
                os.path.join(state, "kroxylicious.log"))
    try:
        wait_for("kroxylicious listening", lambda: port_open("127.0.0.1", port), 120, p)
        wait_for("kroxylicious's JVM", p.find_java, 10, p)
    except Failure:
        p.stop()
        raise
    return Target("kroxylicious", f"127.0.0.1:{port}", p)


STARTERS = {
    "direct": lambda args, cluster, state: Target("direct", cluster["KGW_KAFKA_BOOTSTRAP"]),
    "kgw": start_kgw,
    "haproxy": start_haproxy,
    "kgw-tls": lambda args, cluster, state: start_kgw(args, cluster, state, tls=True),
    "kgw-copy": lambda args, cluster, state: start_kgw(args, cluster, state, copy=True),
    "haproxy-tls": lambda args, cluster, state: start_haproxy(args, cluster, state, tls=True),
    "haproxy-splice": lambda args, cluster, state: start_haproxy(args, cluster, state,
                                                                 splice=True),
    "kgw-base": lambda args, cluster, state: start_kgw(args, cluster, state, base=True),
    "kgw-tls-base": lambda args, cluster, state: start_kgw(args, cluster, state, tls=True,
                                                           base=True),
    "kroxylicious": start_kroxylicious,
    "kafka-proxy": start_kafka_proxy,
}


# ----------------------------------------------------------------- workloads


def loadgen_exe(args):
    return os.path.join(args.build_dir, "bin", "kgw-loadgen")


def loadgen_figures(what, returncode, stdout, stderr):
    """The figures a finished kgw-loadgen printed (its last line of JSON), or
    Failure naming `what` and the error it gave."""
    if returncode != 0:
        # Its own message is the last line; librdkafka's log lines come before.
        lines = stderr.strip().splitlines() or [f"exit code {returncode}"]
        raise Failure(f"{what}: {lines[-1]}", stderr[-4000:])
    return json.loads(stdout.strip().splitlines()[-1])


def loadgen(args, *argv, timeout=900):
    r = subprocess.run([loadgen_exe(args), *argv], capture_output=True, text=True,
                       timeout=timeout)
    return loadgen_figures(f"kgw-loadgen {' '.join(argv)}", r.returncode, r.stdout, r.stderr)


def create_topic(args, cluster, topic):
    """Creates a topic of 6 partitions, remembered for delete_topics."""
    args.created_topics.append(topic)
    loadgen(args, "create-topic", "--bootstrap", cluster["KGW_KAFKA_BOOTSTRAP"],
            "--topic", topic, "--partitions", "6")


def delete_topics(args, cluster):
    """Deletes the topics created since the last call and forgets them. Called
    after every target's turn: the brokers' latency grows with the partitions
    they hold (on the test cluster 80 more topics of 6 partitions took a probe's
    p99 from 9-16 ms to 82-147 ms), so a cluster that kept every turn's topics
    would give each turn a slower cluster than the one before. Returns False
    if the brokers refused."""
    while args.created_topics:
        chunk = args.created_topics[:50]
        try:
            loadgen(args, "delete-topics", "--bootstrap", cluster["KGW_KAFKA_BOOTSTRAP"],
                    "--topic", ",".join(chunk))
        except Exception as e:
            log(f"warning: could not delete {len(args.created_topics)} topics: {first_line(e)}")
            return False
        del args.created_topics[:len(chunk)]
        args.deleted_topics += len(chunk)
    return True


def note_failure(failures, target, workload, label, result):
    """Adds a workload's result to the run's failures if it is one."""
    if "error" in result:
        failures.append({"target": target, "workload": workload, "round": label,
                         "reason": result["error"], "detail": result.get("detail", "")})


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measured(target, brokers, fn):
    """Runs fn and adds its wall time, the CPU seconds the gateway, the brokers
    and the load generator spent meanwhile, and the brokers' cores busy."""
    if target.process and not target.process.alive():
        raise Failure(f"{target.process.name} is not running")
    gateway0 = target.process.cpu_seconds() if target.process else None
    brokers0 = brokers.cpu()
    loadgen0 = children_cpu_seconds()
    t0 = time.monotonic()
    result = fn()
    wall = time.monotonic() - t0
    result["wall_s"] = wall
    result["loadgen_cpu_s"] = children_cpu_seconds() - loadgen0
    if target.process:
        if not target.process.alive():
            raise Failure(f"{target.process.name} exited", target.process.tail())
        result["gateway_cpu_s"] = target.process.cpu_seconds() - gateway0
    if brokers.pids:
        after = brokers.cpu()
        per = {n: after[n] - brokers0[n] for n in after
               if after[n] is not None and brokers0.get(n) is not None}
        result["brokers_cpu_s"] = per
        if len(per) == len(brokers.pids):
            result["brokers_cpu_total_s"] = sum(per.values())
            result["brokers_cores"] = sum(per.values()) / wall if wall > 0 else None
    return result


def kafka_perf(args, cluster, target, topic, records):
    """Kafka's own ProducerPerformance, as a cross-check of the load generator."""
    libs = cluster.get("KGW_KAFKA_LIBS")
    java = shutil.which("java")
    if not libs or not java:
        return None
    r = subprocess.run(
        [java, "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", topic, "--num-records", str(records), "--record-size", "1024",
         "--throughput", "-1", "--producer-props", f"bootstrap.servers={target.bootstrap}",
         "acks=all", "linger.ms=5", "batch.size=262144"],
        capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise Failure(f"ProducerPerformance via {target.name}: exit code {r.returncode}",
                      r.stderr[-4000:])
    # "300000 records sent, 51234.5 records/sec (50.03 MB/sec), ..." is the last line.
    last = r.stdout.strip().splitlines()[-1]
    mb = float(last.split("(")[1].split(" MB/sec")[0])
    return {"mb_per_s": mb * 1.048576, "line": last}  # its MB is MiB


def first_line(e):
    """The one-line reason of an exception."""
    if isinstance(e, Failure):
        return e.message
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def run_target(args, cluster, brokers, sizes, target, tag, state, idle=True):
    """Every workload once through target. A workload that raises is recorded as
    {"error": reason} and the next one runs."""
    res = {}

    def attempt(workload, fn):
        try:
            res[workload] = measured(target, brokers, fn)
        except Exception as e:  # any failure of this target is a result, not the end
            res[workload] = {"error": first_line(e), "detail": getattr(e, "detail", "")}
            log(f"{target.name}: {workload} FAILED: {first_line(e)}")

    try:
        for topic in (tag, tag + "-latency"):
            create_topic(args, cluster, topic)
    except Exception as e:
        for w in WORKLOADS if idle else WORKLOADS[:-1]:
            res[w] = {"error": f"creating the topics (direct): {first_line(e)}",
                      "detail": getattr(e, "detail", "")}
        return res
    b = ["--bootstrap", target.bootstrap, *target.tls_args()]
    attempt("produce", lambda: loadgen(
        args, "produce", *b, "--topic", tag, "--records", str(sizes["records"])))
    if "error" in res["produce"]:
        res["consume"] = {"error": "not run: produce failed in this round"}
    else:
        attempt("consume", lambda: loadgen(
            args, "consume", *b, "--topic", tag, "--records", str(sizes["records"])))
    settled_s, quiet = brokers.settle()
    attempt("latency", lambda: loadgen(
        args, "latency", *b, "--topic", tag + "-latency",
        "--rate", str(sizes["rate"]), "--seconds", str(sizes["seconds"])))
    res["latency"].update(settle_s=round(settled_s, 1), brokers_quiet_before=quiet)
    attempt("storm", lambda: loadgen(
        args, "connect", *b, "--connections", str(sizes["storm"]), "--threads", "8"))
    # The same storm, each connection asking for the brokers after ApiVersions:
    # a client's first two requests, which reach a broker through every target.
    attempt("storm_metadata", lambda: loadgen(
        args, "connect", *b, "--connections", str(sizes["storm"]), "--threads", "8",
        "--requests", "versions,metadata"))
    if idle:
        attempt("idle", lambda: idle_test(args, target, sizes["idle"], state))
    return res


# How long after the idle connections close their memory is looked at again.
IDLE_SETTLE_SECONDS = 6


def idle_test(args, target, n, state):
    ready = os.path.join(state, f"idle-{target.name}.ready")
    if os.path.exists(ready):
        os.remove(ready)
    rss_before = target.process.rss_mib() if target.process else None
    hold = 8 if n >= 5000 else 3
    p = subprocess.Popen(
        [loadgen_exe(args), "connect", "--bootstrap", target.bootstrap, *target.tls_args(),
         "--connections", str(n),
         "--hold-seconds", str(hold), "--ready-file", ready, "--threads", "4",
         # A request the broker must answer: every gateway holds its broker
         # connection too (kgw answers a lone ApiVersions itself).
         "--requests", "versions,metadata"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rss_held = None
    deadline = time.monotonic() + 300
    while p.poll() is None and time.monotonic() < deadline:
        if os.path.exists(ready):
            time.sleep(1)  # let the gateway finish its upstream connections
            if target.process:
                rss_held = target.process.rss_mib()
            break
        time.sleep(0.1)
    try:
        out, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    res = loadgen_figures(f"idle test via {target.name}", p.returncode, out, err)
    if rss_held is not None:
        res["rss_before_mib"] = rss_before
        res["rss_held_mib"] = rss_held
        res["kib_per_connection"] = (rss_held - rss_before) * 1024 / n
        # What the gateway gives back once every connection has closed.
        time.sleep(IDLE_SETTLE_SECONDS)
        res["rss_after_close_mib"] = target.process.rss_mib()
    return res


# ------------------------------------------------------------------- cluster


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def concurrent_latency(args, cluster, brokers, sizes, live, tag):
    """The latency probe through every target of each of CONCURRENT_GROUPS at
    once, each at rate/n for n times as long: each probe sends as many records
    as a probe alone, and the brokers see the same total rate. Returns
    {target: result or {"error": reason}}."""
    by_name = {t.name: t for t in live}
    out = {}
    for group in CONCURRENT_GROUPS:
        members = [by_name[n] for n in group if n in by_name]
        if len(members) < 2:
            continue
        rate = max(1, sizes["rate"] // len(members))
        seconds = sizes["seconds"] * len(members)
        try:
            topics = {}
            for t in members:
                topics[t.name] = f"{tag}-{t.name}-concurrent"
                create_topic(args, cluster, topics[t.name])
        except Exception as e:
            for t in members:
                out[t.name] = {"error": f"creating the topics (direct): {first_line(e)}"}
            continue
        brokers.settle()
        procs = {t.name: subprocess.Popen(
            [loadgen_exe(args), "latency", "--bootstrap", t.bootstrap, *t.tls_args(),
             "--topic", topics[t.name], "--rate", str(rate), "--seconds", str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for t in members}
        for name, p in procs.items():
            try:
                stdout, stderr = p.communicate(timeout=seconds + 120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                out[name] = {"error": f"the latency probe did not finish in {seconds + 120} s"}
                continue
            try:
                r = loadgen_figures("kgw-loadgen latency", p.returncode, stdout, stderr)
            except Failure as e:
                out[name] = {"error": e.message, "detail": e.detail}
                continue
            r.update(alongside=[t.name for t in members if t.name != name])
            out[name] = r
    return out


def start_cluster(args, state):
    kdir = os.path.join(state, "kafka")
    cmd = [HARNESS, "start", "--dir", kdir, "--port-base", str(args.port_base + 90),
           "--relay", f"127.0.0.1:{args.port_base + 800}", "--ttl", "7200"]
    log("starting Kafka: " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return read_env(os.path.join(kdir, "cluster.env")), kdir


# -------------------------------------------------------------------- report


def spread(values):
    """Median, min, max and count of the values that exist, or None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "rounds": len(values)}


def med(summary, key):
    v = summary.get(key)
    return v["median"] if isinstance(v, dict) else v


METRICS = [
    ("produce_mb_s", "produce", "mb_per_s"),
    ("produce_records_s", "produce", "records_per_s"),
    ("consume_mb_s", "consume", "mb_per_s"),
    ("consume_records_s", "consume", "records_per_s"),
    ("latency_p50_ms", "latency", "p50_ms"),
    ("latency_p99_ms", "latency", "p99_ms"),
    ("latency_p999_ms", "latency", "p999_ms"),
    ("storm_connections_s", "storm", "connections_per_s"),
    ("storm_metadata_connections_s", "storm_metadata", "connections_per_s"),
    ("idle_connections", "idle", "opened"),
]


def summarize(rounds):
    """Medians and spread over the measured rounds of one target. rounds is a
    list of {workload: result or {"error": reason}}."""
    def ok(workload):
        return [r[workload] for r in rounds if "error" not in r.get(workload, {"error": 1})]

    out = {key: spread([r.get(field) for r in ok(w)]) for key, w, field in METRICS}
    cpu = []
    for r in rounds:
        p, c = r.get("produce", {}), r.get("consume", {})
        if "gateway_cpu_s" in p and "gateway_cpu_s" in c:
            gb = (p["bytes"] + c["bytes"]) / 1e9
            cpu.append((p["gateway_cpu_s"] + c["gateway_cpu_s"]) / gb)
    out["cpu_s_per_gb"] = spread(cpu)
    # Each direction alone: produce is client-to-broker, consume broker-to-client.
    for w in ("produce", "consume"):
        out[f"cpu_s_per_gb_{w}"] = spread([r[w]["gateway_cpu_s"] / (r[w]["bytes"] / 1e9)
                                           for r in rounds
                                           if "gateway_cpu_s" in r.get(w, {})
                                           and r[w].get("bytes")])
    # A storm's connections/s depends on how the clients, the brokers and the
    # gateway share the cores; the gateway's own CPU per connection does not.
    for w in ("storm", "storm_metadata"):
        out[f"{w}_cpu_us_per_connection"] = spread(
            [r[w]["gateway_cpu_s"] * 1e6 / r[w]["opened"] for r in rounds
             if "gateway_cpu_s" in r.get(w, {}) and r[w].get("opened")])
    for w in WORKLOADS:
        out[f"brokers_cores_{w}"] = spread([r.get("brokers_cores") for r in ok(w)])
    out["storm_failed"] = max((r.get("failed", 0) for r in ok("storm")), default=None)
    out["storm_metadata_failed"] = max((r.get("failed", 0) for r in ok("storm_metadata")),
                                       default=None)
    out["idle_failed"] = max((r.get("failed", 0) + r.get("lost", 0) for r in ok("idle")),
                             default=None)
    # From the first round that held idle connections only: memory freed when
    # they close stays with the process, so later rounds start high.
    idle = ok("idle")
    out["rss_held_mib"] = idle[0].get("rss_held_mib") if idle else None
    out["kib_per_connection"] = idle[0].get("kib_per_connection") if idle else None
    out["rss_after_close_mib"] = idle[0].get("rss_after_close_mib") if idle else None
    out["failed_workloads"] = {w: sum(1 for r in rounds if "error" in r.get(w, {}))
                               for w in WORKLOADS}
    out["rounds"] = len(rounds)
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def cell(s, key, digits, workload=None):
    """A median with its min-max spread, e.g. "57.7 (49.6–72.5)"; FAILED when no
    round succeeded; a trailing * when some did not."""
    v = s.get(key)
    failed = s["failed_workloads"].get(workload, 0) if workload else 0
    if v is None:
        return "FAILED" if failed else "-"
    text = fmt(float(v["median"]), digits)
    if v["rounds"] > 1:
        text += f" ({fmt(float(v['min']), digits)}–{fmt(float(v['max']), digits)})"
    return text + ("*" if failed else "")


def print_rows(header, rows):
    full = [header] + [r for r in rows if len(r) == len(header)]
    widths = [max(len(r[i]) for r in full) for i in range(len(header))]
    for r in [header] + rows:
        if len(r) == 2 and len(header) > 2:  # a row with a note instead of figures
            print(f"{r[0].ljust(widths[0])}  {r[1]}")
        else:
            print("  ".join(c.rjust(w) if i else c.ljust(w)
                            for i, (c, w) in enumerate(zip(r, widths))))


def print_report(summary, notes, sizes, perf, failures, brokers, rounds):
    print()
    print(f"Medians of {rounds} rounds, (min–max) across them; * = failed in some rounds"
          if rounds > 1 else "One round: no medians, no spread")
    cols = [
        ("produce MB/s", "produce_mb_s", 1, "produce"),
        ("consume MB/s", "consume_mb_s", 1, "consume"),
        ("p50 ms", "latency_p50_ms", 2, "latency"), ("p99 ms", "latency_p99_ms", 2, "latency"),
        ("p99.9 ms", "latency_p999_ms", 2, "latency"),
        ("storm conn/s", "storm_connections_s", 0, "storm"),
        ("storm+md conn/s", "storm_metadata_connections_s", 0, "storm_metadata"),
    ]
    rows = [[name] + [cell(s, k, d, w) for _, k, d, w in cols] for name, s in summary.items()]
    rows += [[name, f"not measured: {note}"] for name, note in notes.items()]
    print_rows(["target"] + [c[0] for c in cols], rows)

    header = ["target", "CPU s/GB", "produce", "consume", "storm CPU µs/conn",
              "storm+md CPU µs/conn", "RSS idle MiB", f"RSS @{sizes['idle']} MiB", "KiB/conn",
              "RSS after close MiB"]
    rows = [[name, cell(s, "cpu_s_per_gb", 2), cell(s, "cpu_s_per_gb_produce", 2),
             cell(s, "cpu_s_per_gb_consume", 2), cell(s, "storm_cpu_us_per_connection", 0),
             cell(s, "storm_metadata_cpu_us_per_connection", 0),
             fmt(s.get("rss_idle_mib"), 1),
             fmt(s.get("rss_held_mib"), 1), fmt(s.get("kib_per_connection"), 1),
             fmt(s.get("rss_after_close_mib"), 1)]
            for name, s in summary.items() if name != "direct"]
    if rows:
        print()
        print("Gateway resources (CPU per GB over produce + consume, then each alone; CPU "
              "per storm connection, without and with Metadata; RSS after start-up, "
              f"while {sizes['idle']:,} idle connections are held, and {IDLE_SETTLE_SECONDS} s "
              "after they closed, first round)")
        print_rows(header, rows)

    print()
    if brokers.pids:
        print(f"Brokers' CPU during each workload, in cores busy (CPU seconds of the "
              f"{len(brokers.pids)} broker JVMs / wall seconds; this machine has "
              f"{os.cpu_count()} cores)")
        header = ["target"] + list(WORKLOADS)
        rows = [[name] + [cell(s, f"brokers_cores_{w}", 2, w) for w in WORKLOADS]
                for name, s in summary.items()]
        print_rows(header, rows)
    else:
        print(f"Brokers' CPU: not measured ({brokers.why_not})")

    rows = [[name, cell(s, "concurrent_latency_p50_ms", 2), cell(s, "concurrent_latency_p99_ms", 2),
             cell(s, "concurrent_latency_p999_ms", 2)]
            for name, s in summary.items() if s.get("concurrent_latency_p99_ms")]
    if rows:
        print()
        groups = "; ".join(", ".join(g) for g in CONCURRENT_GROUPS)
        print(f"Latency probes at the same time, once per round (groups: {groups}; each probe "
              f"at {sizes['rate']}/n records/s for n x {sizes['seconds']} s, n the group's "
              "targets that run)")
        print_rows(["target", "p50 ms", "p99 ms", "p99.9 ms"], rows)

    for name, s in summary.items():
        errors = [f"{s[k]:,} {what}" for k, what in (("storm_failed", "storm connections"),
                                                     ("storm_metadata_failed",
                                                      "storm+metadata connections"),
                                                     ("idle_failed", "idle connections"))
                  if s.get(k)]
        if errors:
            print(f"{name}: connection errors: {', '.join(errors)} (most in one round)")

    pairs = [("kgw", "direct"), ("kgw", "haproxy"), ("kgw", "haproxy-splice"),
             ("kgw", "kgw-copy"), ("kgw", "kgw-base"), ("kgw-tls", "haproxy-tls"),
             ("kgw-tls", "kgw-tls-base")]
    pairs = [(a, b) for a, b in pairs if a in summary and b in summary]
    if pairs:
        print()
        for mine, ref in pairs:
            k, s = summary[mine], summary[ref]
            cpu = ratio(med(k, "cpu_s_per_gb"), med(s, "cpu_s_per_gb"))
            storm = ratio(med(k, "storm_cpu_us_per_connection"),
                          med(s, "storm_cpu_us_per_connection"))
            storm_md = ratio(med(k, "storm_metadata_cpu_us_per_connection"),
                             med(s, "storm_metadata_cpu_us_per_connection"))
            print(f"{mine} / {ref} (medians): "
                  f"produce {fmt(ratio(med(k, 'produce_mb_s'), med(s, 'produce_mb_s')), 3)}, "
                  f"consume {fmt(ratio(med(k, 'consume_mb_s'), med(s, 'consume_mb_s')), 3)}, "
                  f"p99 latency "
                  f"{fmt(ratio(med(k, 'latency_p99_ms'), med(s, 'latency_p99_ms')), 3)}"
                  + (f", CPU per GB {fmt(cpu, 3)}" if cpu is not None else "")
                  + (f", CPU per storm connection {fmt(storm, 3)}" if storm is not None else "")
                  + (f" ({fmt(storm_md, 3)} with Metadata)" if storm_md is not None else ""))
    if perf:
        print()
        for name, p in perf.items():
            print(f"Kafka ProducerPerformance via {name}: {p['mb_per_s']:.1f} MB/s ({p['line']})")
    if failures:
        print()
        for f in failures:
            kind = "ERROR" if f["target"] in CORE else "FAILED (a finding about this peer)"
            print(f"{kind}: {f['target']}, {f['workload']}, round {f['round']}: {f['reason']}")


def goals(summary, sizes):
    k, h = summary.get("kgw"), summary.get("haproxy")
    out = []
    if k and h:
        for goal, key, limit, op in (
                ("produce throughput >= 0.95 x HAProxy", "produce_mb_s", 0.95, ">="),
                ("consume throughput >= 0.95 x HAProxy", "consume_mb_s", 0.95, ">="),
                ("p99 publish latency <= 1.1 x HAProxy", "latency_p99_ms", 1.1, "<="),
                ("CPU per GB <= 1.0 x HAProxy", "cpu_s_per_gb", 1.0, "<="),
                ("p99 publish latency <= 1.1 x HAProxy, probes at the same time",
                 "concurrent_latency_p99_ms", 1.1, "<="),
                ("storm connections/s >= 1.0 x HAProxy", "storm_connections_s", 1.0, ">="),
                ("storm connections/s >= 1.0 x HAProxy, with Metadata",
                 "storm_metadata_connections_s", 1.0, ">=")):
            out.append((goal, ratio(med(k, key), med(h, key)), limit, op))
    d = summary.get("direct")
    if k and d:
        for goal, key in (("produce throughput >= 0.9 x direct", "produce_mb_s"),
                          ("consume throughput >= 0.9 x direct", "consume_mb_s")):
            out.append((goal, ratio(med(k, key), med(d, key)), 0.9, ">="))
    kt, ht = summary.get("kgw-tls"), summary.get("haproxy-tls")
    if kt and ht:
        for goal, key, limit, op in (
                ("TLS produce throughput >= 1.0 x HAProxy ssl", "produce_mb_s", 1.0, ">="),
                ("TLS consume throughput >= 1.0 x HAProxy ssl", "consume_mb_s", 1.0, ">="),
                ("TLS CPU per GB <= 1.0 x HAProxy ssl", "cpu_s_per_gb", 1.0, "<=")):
            out.append((goal, ratio(med(kt, key), med(ht, key)), limit, op))
    peers = [med(summary[p], "cpu_s_per_gb") for p in PEERS if p in summary]
    peers = [p for p in peers if p is not None]
    if k and peers:
        out.append(("CPU per GB <= 0.35 x best peer",
                    ratio(med(k, "cpu_s_per_gb"), min(peers)), 0.35, "<="))
    if k:
        out.append(("idle RSS <= 20 MiB", k["rss_idle_mib"], 20, "<="))
        out.append(("<= 8 KiB per idle connection", k["kib_per_connection"], 8, "<="))
        after = k.get("rss_after_close_mib")
        out.append(("RSS within 10 MiB of idle after the connections close",
                    None if after is None else after - k["rss_idle_mib"], 10, "<="))
        out.append((f"{sizes['idle']} idle connections without an error", k["idle_failed"], 0,
                    "<="))
    rows = []
    for name, value, limit, op in out:
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        rows.append({"goal": name, "value": value, "limit": limit, "met": met})
    return rows


def raise_file_limit():
    """Raises the descriptor limit the gateways inherit as far as allowed and
    returns it. Each idle client costs a gateway two descriptors (its own and
    the broker connection), so the limit caps the idle test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 131072
    for limit in ((want, max(hard, want)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog=__doc__.split("\n\n")[1].replace("\n", " "))
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run, not figures: small sizes, 1 round, and a tiny warm-up "
                         f"({QUICK_WARMUP['records']:,} records, {QUICK_WARMUP['seconds']} s of "
                         f"latency, {QUICK_WARMUP['storm']} connections)")
    ap.add_argument("--rounds", "--repeat", type=int, dest="rounds",
                    help="measured rounds, each running every target once, the order rotated "
                         "by one per round; medians and spread are reported "
                         "[default 3, --quick 1]")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the discarded warm-up round")
    ap.add_argument("--targets",
                    default="direct,kgw,haproxy,haproxy-splice,kafka-proxy,kroxylicious,kgw-tls,"
                            "haproxy-tls")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--base-build-dir",
                    help="another build's directory: the targets kgw-base and kgw-tls-base run "
                         "its bin/kgw-agent, set up as kgw and kgw-tls, for a before and after "
                         "in one run (without it they are not measured)")
    ap.add_argument("--peers-dir", default=DEFAULT_PEERS_DIR,
                    help="where build-peers.sh put the peers: bin/kafka-proxy, kroxylicious/ "
                         "[default $KGW_PEERS_DIR, else ~/.cache/kgw/peers]")
    ap.add_argument("--state-dir", default="/tmp/kgw-bench")
    ap.add_argument("--port-base", type=int, default=23000,
                    help="ports used: base+90.. (Kafka), +800.. (HAProxy), +810.. (HAProxy "
                         "with TLS), +820.. (HAProxy with splice-auto), +898.. (kgw), +920.. "
                         "(kgw with TLS), +940.. (kgw-copy: GATEWAY_ZERO_COPY=false, not run "
                         "unless named), +960.. and +980.. (kgw-base, kgw-tls-base), +1100.. "
                         "(kafka-proxy), +1200.. (Kroxylicious)")
    ap.add_argument("--use-running-cluster", action="store_true",
                    help="use the cluster named by KGW_KAFKA_* (started with --relay) instead "
                         "of starting one; the brokers' CPU is read when KGW_KAFKA_DIR is set")
    ap.add_argument("--json", help="also write every result of every round here")
    ap.add_argument("--keep-data", action="store_true",
                    help="keep the records: the topics of a running cluster, the data of a "
                         "cluster the run started (by default each target's topics are "
                         "deleted after its turn; with this, later turns meet a cluster of "
                         "more partitions, which slows the latency probe)")
    args = ap.parse_args()
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    sizes = QUICK if args.quick else FULL
    warmup = None if args.no_warmup else (QUICK_WARMUP if args.quick else WARMUP)
    names = [t for t in args.targets.split(",") if t]
    for n in names:
        if n not in STARTERS:
            ap.error(f"unknown target {n!r}; known: {', '.join(STARTERS)}")

    limit = raise_file_limit()
    # Room for the gateway's other descriptors (listeners, metadata, logs).
    fits = (limit - 256) // 2
    if fits < sizes["idle"]:
        log(f"the descriptor limit is {limit} and cannot be raised: the idle test opens "
            f"{fits} connections, not {sizes['idle']}")
        sizes = dict(sizes, idle=fits, idle_wanted=sizes["idle"], fd_limit=limit)
    os.makedirs(args.state_dir, exist_ok=True)
    state = tempfile.mkdtemp(prefix="run-", dir=args.state_dir)
    kdir = None
    cluster = None
    args.created_topics = []
    args.deleted_topics = 0
    targets = []
    failures = []
    try:
        if args.use_running_cluster:
            cluster = dict(os.environ)
            for key in ("KGW_KAFKA_BOOTSTRAP", "KGW_KAFKA_RELAY_BOOTSTRAP",
                        "KGW_KAFKA_RELAY_TARGETS"):
                if key not in cluster:
                    raise Failure(f"--use-running-cluster needs {key} "
                                  "(start the cluster with --relay)")
            brokers = Brokers(os.environ.get("KGW_KAFKA_DIR"),
                              why_not="KGW_KAFKA_DIR is not set, so the brokers are unknown")
        else:
            cluster, kdir = start_cluster(args, state)
            brokers = Brokers(kdir)
        if brokers.why_not:
            log(f"brokers' CPU: not measured: {brokers.why_not}")
        for n in names:
            if n in PEERS:
                try:
                    targets.append(STARTERS[n](args, cluster, state))
                except Exception as e:  # a peer that does not start is a finding
                    detail = getattr(e, "detail", "")
                    why = first_line(e) + (f" (its log ends: {detail.splitlines()[-1].strip()})"
                                           if detail else "")
                    note_failure(failures, n, "start", "-", {"error": why, "detail": detail})
                    targets.append(unavailable(n, f"did not start: {why}"))
            else:
                targets.append(STARTERS[n](args, cluster, state))
        live = [t for t in targets if t.bootstrap]
        if not live:
            raise Failure("no target could be measured")
        rss_idle = {t.name: t.process.rss_mib() for t in live if t.process}

        plan = ([("warm-up", warmup)] if warmup else []) + \
            [(r + 1, sizes) for r in range(args.rounds)]
        runs = []
        for label, round_sizes in plan:
            shift = 0 if label == "warm-up" else (label - 1) % len(live)
            order = live[shift:] + live[:shift]
            discarded = label == "warm-up"
            entry = {"round": label, "discarded": discarded, "sizes": round_sizes,
                     "order": [t.name for t in order], "results": {}}
            runs.append(entry)
            for t in order:
                what = "warm-up (discarded)" if discarded else f"round {label}/{args.rounds}"
                log(f"{what}: {t.name}")
                tag = f"kgw-bench-{os.getpid()}-{t.name}-{'w' if discarded else label}"
                res = run_target(args, cluster, brokers, round_sizes, t, tag, state,
                                 idle=not discarded)
                if not args.keep_data:
                    delete_topics(args, cluster)
                entry["results"][t.name] = res
                for w, r in res.items():
                    note_failure(failures, t.name, w, label, r)
            if not discarded:
                log(f"round {label}/{args.rounds}: latency probes at the same time")
                tag = f"kgw-bench-{os.getpid()}-{label}"
                entry["concurrent_latency"] = concurrent_latency(args, cluster, brokers,
                                                                 round_sizes, live, tag)
                if not args.keep_data:
                    delete_topics(args, cluster)
                for name, r in entry["concurrent_latency"].items():
                    note_failure(failures, name, "concurrent latency", label, r)
        perf = {}
        for t in live:
            if t.name in ("direct", "kgw"):
                topic = f"kgw-bench-{os.getpid()}-{t.name}-perf"
                try:
                    create_topic(args, cluster, topic)
                    p = kafka_perf(args, cluster, t, topic, sizes["perf_records"])
                except Exception as e:
                    note_failure(failures, t.name, "ProducerPerformance", "cross-check",
                                 {"error": first_line(e), "detail": getattr(e, "detail", "")})
                    continue
                if p:
                    perf[t.name] = p
        summary = {}
        for t in live:
            measured_rounds = [e["results"][t.name] for e in runs if not e["discarded"]]
            summary[t.name] = summarize(measured_rounds)
            summary[t.name]["rss_idle_mib"] = rss_idle.get(t.name)
            concurrent = [e.get("concurrent_latency", {}).get(t.name, {}) for e in runs
                          if not e["discarded"]]
            for q in ("p50_ms", "p99_ms", "p999_ms"):
                summary[t.name][f"concurrent_latency_{q}"] = spread(
                    [c.get(q) for c in concurrent if "error" not in c])
        notes = {t.name: t.note for t in targets if not t.bootstrap}
        print_report(summary, notes, sizes, perf, failures, brokers, args.rounds)
        g = goals(summary, sizes)
        print()
        for row in g:
            verdict = {True: "met", False: "MISSED", None: "not measured"}[row["met"]]
            print(f"goal: {row['goal']}: {fmt(row['value'], 3)} -> {verdict}")
        errors = [f for f in failures if f["target"] in CORE]
        result = {
            "sizes": sizes, "warmup_sizes": warmup, "rounds": args.rounds,
            "cpus": os.cpu_count(), "peers_dir": args.peers_dir,
            "brokers": {"pids": brokers.pids, "not_measured": brokers.why_not},
            "summary": summary, "not_measured": notes, "failures": failures, "goals": g,
            "kafka_producer_performance": perf, "runs": runs,
        }
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        print()
        print(json.dumps({"summary": summary, "goals": g, "not_measured": notes,
                          "failures": [{k: v for k, v in f.items() if k != "detail"}
                                       for f in failures]}))
        if errors:
            log(f"error: {len(errors)} workload(s) failed for direct, kgw or haproxy")
            return 1
        return 0
    except Failure as e:
        log(f"error: {e}")
        return 1
    finally:
        for t in targets:
            if t.process:
                t.process.stop()
        if kdir:
            subprocess.run([HARNESS, "stop", "--dir", kdir], stdout=subprocess.DEVNULL)
            if not args.keep_data:
                # The logs and cluster.env stay; the records go.
                for node in glob.glob(os.path.join(kdir, "node-*", "data")):
                    shutil.rmtree(node, ignore_errors=True)
        elif cluster and not args.keep_data and delete_topics(args, cluster):
            log(f"deleted the run's {args.deleted_topics} topics")


if __name__ == "__main__":
    sys.exit(main())
