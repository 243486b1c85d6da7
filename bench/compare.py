#!/usr/bin/env python3
"""Runs the kgw benchmark: the same workloads direct to the brokers, through one
kgw agent, through HAProxy in TCP mode and through the peer gateways that
install here, all in one run, and prints a table plus JSON with the ratios.

Usually started by scripts/benchmark.sh, which installs and builds first.
See docs/benchmarks.md for the method and the results.
"""

import argparse
import json
import resource
import os
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
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

FULL = dict(records=300_000, rate=1000, seconds=20, storm=5000, idle=10_000, perf_records=300_000)
QUICK = dict(records=20_000, rate=500, seconds=3, storm=300, idle=500, perf_records=20_000)


def log(msg):
    print(f"benchmark: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ------------------------------------------------------------------ processes


class Process:
    """A gateway under test: started in its own process group, killed with it."""

    def __init__(self, name, argv, env=None, log_path=None):
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, "w") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of the whole line.
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mib(self):
        with open(f"/proc/{self.pid}/statm") as f:
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
            raise Failure(f"{what}: {proc.name} exited\n{proc.tail()}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise Failure(f"{what}: not within {timeout} s" + (f"\n{proc.tail()}" if proc else ""))


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


# ------------------------------------------------------------------- targets


class Target:
    """One way to reach the brokers: a bootstrap address and, for gateways, the
    process whose CPU and memory are measured."""

    def __init__(self, name, bootstrap, process=None, note=""):
        self.name = name
        self.bootstrap = bootstrap
        self.process = process
        self.note = note


def start_kgw(args, cluster, state):
    port_start = args.port_base + 900
    http = args.port_base + 899
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
    p = Process("kgw-agent", [os.path.join(args.build_dir, "bin", "kgw-agent")], env,
                os.path.join(state, "kgw-agent.log"))
    wait_for("kgw-agent ready", lambda: http_ok(f"http://127.0.0.1:{http}/health/ready"), 60, p)
    return Target("kgw", f"127.0.0.1:{port_start}", p)


def start_haproxy(args, cluster, state):
    haproxy = shutil.which("haproxy")
    if not haproxy:
        return Target("haproxy", None, note="haproxy is not installed")
    fronts = cluster["KGW_KAFKA_RELAY_BOOTSTRAP"].split(",")
    backs = cluster["KGW_KAFKA_RELAY_TARGETS"].split(",")
    # Settings of a plain L4 relay: TCP mode, no inspection, long timeouts, as
    # many threads as kgw has (one per core), room for the idle test.
    maxconn = min(25000, (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100) // 2)
    lines = [
        "global",
        f"  maxconn {maxconn}",
        f"  nbthread {os.cpu_count()}",
        "defaults",
        "  mode tcp",
        "  timeout connect 5s",
        "  timeout client 10m",
        "  timeout server 10m",
        f"  maxconn {maxconn}",
    ]
    for i, (front, back) in enumerate(zip(fronts, backs)):
        lines += [f"listen broker{i + 1}", f"  bind {front}", f"  server b{i + 1} {back}"]
    cfg = os.path.join(state, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = Process("haproxy", [haproxy, "-db", "-f", cfg], None, os.path.join(state, "haproxy.log"))
    host, port = fronts[0].rsplit(":", 1)
    wait_for("haproxy listening", lambda: port_open(host, int(port)), 20, p)
    return Target("haproxy", fronts[0], p)


def unavailable(name, why):
    log(f"{name}: not measured: {why}")
    return Target(name, None, note=why)


def start_kafka_proxy(args, cluster, state):
    """grepplabs/kafka-proxy, from the Go module proxy when it serves it."""
    go = shutil.which("go")
    if not go:
        return unavailable("kafka-proxy", "Go is not installed")
    gobin = os.path.join(args.cache_dir, "gobin")
    binary = os.path.join(gobin, "kafka-proxy")
    if not os.path.exists(binary):
        r = subprocess.run(
            [go, "install", "github.com/grepplabs/kafka-proxy@latest"],
            env=dict(os.environ, GOBIN=gobin), capture_output=True, text=True, timeout=600,
        )
        if r.returncode != 0:
            first = (r.stderr.strip().splitlines() or ["go install failed"])[0]
            return unavailable("kafka-proxy", f"go install refused: {first}")
    brokers = cluster["KGW_KAFKA_BOOTSTRAP"].split(",")
    argv = [binary, "server", "--http-disable"]
    for i, b in enumerate(brokers):
        argv += ["--bootstrap-server-mapping", f"{b},127.0.0.1:{args.port_base + 1101 + i}"]
    p = Process("kafka-proxy", argv, None, os.path.join(state, "kafka-proxy.log"))
    wait_for("kafka-proxy listening", lambda: port_open("127.0.0.1", args.port_base + 1101), 30, p)
    return Target("kafka-proxy", f"127.0.0.1:{args.port_base + 1101}", p)


def start_kroxylicious(args, cluster, state):
    """Kroxylicious needs its application module, which Maven Central lacks."""
    url = ("https://repo1.maven.org/maven2/io/kroxylicious/kroxylicious-app/"
           "maven-metadata.xml")
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            r.read()
    except Exception as e:
        return unavailable(
            "kroxylicious", f"io.kroxylicious:kroxylicious-app is not served by Maven Central ({e})")
    return unavailable("kroxylicious", "kroxylicious-app is served but running it is not built yet")


STARTERS = {
    "direct": lambda args, cluster, state: Target("direct", cluster["KGW_KAFKA_BOOTSTRAP"]),
    "kgw": start_kgw,
    "haproxy": start_haproxy,
    "kroxylicious": start_kroxylicious,
    "kafka-proxy": start_kafka_proxy,
}


# ----------------------------------------------------------------- workloads


def loadgen(args, *argv, timeout=900):
    exe = os.path.join(args.build_dir, "bin", "kgw-loadgen")
    r = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise Failure(f"kgw-loadgen {' '.join(argv)}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def measured(target, fn):
    """Runs fn and adds the gateway's CPU seconds spent meanwhile."""
    before = target.process.cpu_seconds() if target.process else None
    result = fn()
    if before is not None:
        result["gateway_cpu_s"] = target.process.cpu_seconds() - before
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
        raise Failure(f"ProducerPerformance via {target.name}: {r.stderr.strip()[-2000:]}")
    # "300000 records sent, 51234.5 records/sec (50.03 MB/sec), ..." is the last line.
    last = r.stdout.strip().splitlines()[-1]
    mb = float(last.split("(")[1].split(" MB/sec")[0])
    return {"mb_per_s": mb * 1.048576, "line": last}  # its MB is MiB


def run_target(args, cluster, sizes, target, rep, state):
    res = {}
    tag = f"kgw-bench-{os.getpid()}-{target.name}-{rep}"
    loadgen(args, "create-topic", "--bootstrap", cluster["KGW_KAFKA_BOOTSTRAP"],
            "--topic", tag, "--partitions", "6")
    loadgen(args, "create-topic", "--bootstrap", cluster["KGW_KAFKA_BOOTSTRAP"],
            "--topic", tag + "-latency", "--partitions", "6")
    b = target.bootstrap
    res["produce"] = measured(target, lambda: loadgen(
        args, "produce", "--bootstrap", b, "--topic", tag, "--records", str(sizes["records"])))
    res["consume"] = measured(target, lambda: loadgen(
        args, "consume", "--bootstrap", b, "--topic", tag, "--records", str(sizes["records"])))
    res["latency"] = measured(target, lambda: loadgen(
        args, "latency", "--bootstrap", b, "--topic", tag + "-latency",
        "--rate", str(sizes["rate"]), "--seconds", str(sizes["seconds"])))
    res["storm"] = measured(target, lambda: loadgen(
        args, "connect", "--bootstrap", b, "--connections", str(sizes["storm"]), "--threads", "8"))
    res["idle"] = idle_test(args, target, sizes["idle"], state)
    return res


def idle_test(args, target, n, state):
    ready = os.path.join(state, f"idle-{target.name}.ready")
    if os.path.exists(ready):
        os.remove(ready)
    rss_before = target.process.rss_mib() if target.process else None
    exe = os.path.join(args.build_dir, "bin", "kgw-loadgen")
    hold = 8 if n >= 5000 else 3
    p = subprocess.Popen(
        [exe, "connect", "--bootstrap", target.bootstrap, "--connections", str(n),
         "--hold-seconds", str(hold), "--ready-file", ready, "--threads", "4"],
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
    out, err = p.communicate(timeout=600)
    if p.returncode != 0:
        raise Failure(f"idle test via {target.name}: {err.strip()}")
    res = json.loads(out.strip().splitlines()[-1])
    if rss_held is not None:
        res["rss_before_mib"] = rss_before
        res["rss_held_mib"] = rss_held
        res["kib_per_connection"] = (rss_held - rss_before) * 1024 / n
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


def start_cluster(args, state):
    kdir = os.path.join(state, "kafka")
    cmd = [HARNESS, "start", "--dir", kdir, "--port-base", str(args.port_base + 90),
           "--relay", f"127.0.0.1:{args.port_base + 800}", "--ttl", "7200"]
    log("starting Kafka: " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return read_env(os.path.join(kdir, "cluster.env")), kdir


# -------------------------------------------------------------------- report


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    """Medians over the repetitions of one target."""
    def m(workload, key):
        return median([r[workload].get(key) for r in runs])

    moved = m("produce", "bytes") + m("consume", "bytes")
    cpu = None
    if m("produce", "gateway_cpu_s") is not None:
        cpu = (m("produce", "gateway_cpu_s") + m("consume", "gateway_cpu_s")) / (moved / 1e9)
    return {
        "produce_mb_s": m("produce", "mb_per_s"),
        "produce_records_s": m("produce", "records_per_s"),
        "consume_mb_s": m("consume", "mb_per_s"),
        "consume_records_s": m("consume", "records_per_s"),
        "latency_p50_ms": m("latency", "p50_ms"),
        "latency_p99_ms": m("latency", "p99_ms"),
        "latency_p999_ms": m("latency", "p999_ms"),
        "storm_connections_s": m("storm", "connections_per_s"),
        "storm_failed": max(r["storm"]["failed"] for r in runs),
        "idle_connections": m("idle", "opened"),
        "idle_failed": max(r["idle"]["failed"] + r["idle"]["lost"] for r in runs),
        "cpu_s_per_gb": cpu,
        "rss_idle_mib": None,
        # From the first run only: memory freed when its idle connections
        # close stays with the process, so later runs start high.
        "rss_held_mib": runs[0]["idle"].get("rss_held_mib"),
        "kib_per_connection": runs[0]["idle"].get("kib_per_connection"),
    }


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def print_table(summary, notes, sizes, perf):
    cols = [
        ("produce MB/s", "produce_mb_s", 1), ("consume MB/s", "consume_mb_s", 1),
        ("p50 ms", "latency_p50_ms", 2), ("p99 ms", "latency_p99_ms", 2),
        ("p99.9 ms", "latency_p999_ms", 2), ("storm conn/s", "storm_connections_s", 0),
        ("CPU s/GB", "cpu_s_per_gb", 2), ("RSS idle MiB", "rss_idle_mib", 1),
        (f"RSS @{sizes['idle']} MiB", "rss_held_mib", 1), ("KiB/conn", "kib_per_connection", 1),
    ]
    header = ["target"] + [c[0] for c in cols]
    rows = []
    for name, s in summary.items():
        rows.append([name] + [fmt(s.get(k), d) for _, k, d in cols])
    for name, note in notes.items():
        rows.append([name, f"not measured: {note}"] + [""] * (len(cols) - 1))
    widths = [max(len(str(r[i])) for r in [header] + rows if i < len(r)) for i in range(len(header))]
    widths[1] = max(len(header[1]), max((len(r[1]) for r in rows if r[2] != ""), default=0))
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)) if c != "" or i < 2)
    print(line(header))
    for r in rows:
        print(line(r) if r[2] != "" else f"{r[0].ljust(widths[0])}  {r[1]}")
    if "kgw" in summary:
        k = summary["kgw"]
        print()
        for ref in ("direct", "haproxy"):
            if ref not in summary:
                continue
            s = summary[ref]
            print(f"kgw / {ref}: produce {fmt(ratio(k['produce_mb_s'], s['produce_mb_s']), 3)}, "
                  f"consume {fmt(ratio(k['consume_mb_s'], s['consume_mb_s']), 3)}, "
                  f"p99 latency {fmt(ratio(k['latency_p99_ms'], s['latency_p99_ms']), 3)}"
                  + (f", CPU per GB {fmt(ratio(k['cpu_s_per_gb'], s['cpu_s_per_gb']), 3)}"
                     if s["cpu_s_per_gb"] else ""))
    if perf:
        print()
        for name, p in perf.items():
            print(f"Kafka ProducerPerformance via {name}: {p['mb_per_s']:.1f} MB/s ({p['line']})")


def goals(summary, sizes):
    k, h = summary.get("kgw"), summary.get("haproxy")
    out = []
    if k and h:
        out.append(("produce throughput >= 0.95 x HAProxy", ratio(k["produce_mb_s"], h["produce_mb_s"]), 0.95, ">="))
        out.append(("consume throughput >= 0.95 x HAProxy", ratio(k["consume_mb_s"], h["consume_mb_s"]), 0.95, ">="))
        out.append(("p99 publish latency <= 1.1 x HAProxy", ratio(k["latency_p99_ms"], h["latency_p99_ms"]), 1.1, "<="))
        out.append(("CPU per GB <= 1.2 x HAProxy", ratio(k["cpu_s_per_gb"], h["cpu_s_per_gb"]), 1.2, "<="))
    peers = [summary[p]["cpu_s_per_gb"] for p in ("kroxylicious", "kafka-proxy") if p in summary]
    if k and peers:
        out.append(("CPU per GB <= 0.5 x best peer", ratio(k["cpu_s_per_gb"], min(peers)), 0.5, "<="))
    if k:
        out.append(("idle RSS <= 20 MiB", k["rss_idle_mib"], 20, "<="))
        out.append(("<= 40 KiB per idle connection", k["kib_per_connection"], 40, "<="))
        out.append((f"{sizes['idle']} idle connections without an error", k["idle_failed"], 0, "<="))
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not figures")
    ap.add_argument("--repeat", type=int, default=1, help="runs per target; medians are reported")
    ap.add_argument("--targets", default="direct,kgw,haproxy,kroxylicious,kafka-proxy")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--state-dir", default="/tmp/kgw-bench")
    ap.add_argument("--cache-dir", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "kgw", "bench"))
    ap.add_argument("--port-base", type=int, default=23000,
                    help="ports used: base+90.. (Kafka), +800.. (HAProxy), +899.. (kgw), +1100.. (kafka-proxy)")
    ap.add_argument("--use-running-cluster", action="store_true",
                    help="use the cluster named by KGW_KAFKA_* (started with --relay) instead of starting one")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    sizes = QUICK if args.quick else FULL
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
    targets = []
    try:
        if args.use_running_cluster:
            cluster = dict(os.environ)
            for key in ("KGW_KAFKA_BOOTSTRAP", "KGW_KAFKA_RELAY_BOOTSTRAP", "KGW_KAFKA_RELAY_TARGETS"):
                if key not in cluster:
                    raise Failure(f"--use-running-cluster needs {key} (start the cluster with --relay)")
        else:
            cluster, kdir = start_cluster(args, state)
        for n in names:
            targets.append(STARTERS[n](args, cluster, state))
        live = [t for t in targets if t.bootstrap]
        rss_idle = {t.name: t.process.rss_mib() for t in live if t.process}
        runs = {t.name: [] for t in live}
        for rep in range(args.repeat):
            for t in live:
                log(f"run {rep + 1}/{args.repeat}: {t.name}")
                runs[t.name].append(run_target(args, cluster, sizes, t, rep, state))
        perf = {}
        for t in live:
            if t.name in ("direct", "kgw"):
                topic = f"kgw-bench-{os.getpid()}-{t.name}-perf"
                loadgen(args, "create-topic", "--bootstrap", cluster["KGW_KAFKA_BOOTSTRAP"],
                        "--topic", topic, "--partitions", "6")
                p = kafka_perf(args, cluster, t, topic, sizes["perf_records"])
                if p:
                    perf[t.name] = p
        summary = {}
        for t in live:
            summary[t.name] = summarize(runs[t.name])
            summary[t.name]["rss_idle_mib"] = rss_idle.get(t.name)
        notes = {t.name: t.note for t in targets if not t.bootstrap}
        print_table(summary, notes, sizes, perf)
        g = goals(summary, sizes)
        print()
        for row in g:
            verdict = {True: "met", False: "MISSED", None: "not measured"}[row["met"]]
            print(f"goal: {row['goal']}: {fmt(row['value'], 3)} -> {verdict}")
        result = {
            "sizes": sizes, "repeat": args.repeat, "cpus": os.cpu_count(),
            "summary": summary, "not_measured": notes, "goals": g,
            "kafka_producer_performance": perf, "runs": runs,
        }
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        print()
        print(json.dumps({"summary": summary, "goals": g, "not_measured": notes}))
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


if __name__ == "__main__":
    sys.exit(main())
