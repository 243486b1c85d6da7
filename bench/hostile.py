#!/usr/bin/env python3
"""Hostile-load benchmark: a legitimate producer and latency probe through one
kgw agent, first alone, then while attackers hit the same agent, in one run.

Attackers (all at once, for the length of the loaded run):
  - slowloris: connections that each send a valid request one byte every 2 s,
    reconnecting when the agent closes them;
  - amplification: new connections that each send six bytes announcing a
    100 MiB request (the agent's frame limit), then nothing;
  - garbage: new connections that each send random bytes.

Reported: the agent's peak RSS against its request budget; the legitimate
produce throughput and latency p99 against the quiet run of the same agent;
legitimate failures; and what the agent closed or refused, by reason.

Usually started as `scripts/benchmark.sh --hostile`. Results and the method
are in docs/benchmarks.md.
"""

import argparse
import json
import os
import random
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the shared process, cluster and load-generator helpers)

FULL = dict(records=300_000, rate=1000, seconds=20, slowloris=500, amplify_per_s=50,
            garbage_per_s=20)
QUICK = dict(records=20_000, rate=300, seconds=5, slowloris=50, amplify_per_s=10,
             garbage_per_s=5)


def api_versions_request(correlation_id):
    """An ApiVersions v0 request frame (no body): what a slow client sends."""
    client = b"hostile-bench-slowloris"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client)) + client
    return struct.pack(">i", len(body)) + body


class Attack:
    """Runs the three attackers in threads until stopped, counting what they did."""

    def __init__(self, host, port, sizes):
        self.host, self.port, self.sizes = host, port, sizes
        self.stop = threading.Event()
        self.counts = dict(slowloris_opened=0, slowloris_closed_by_agent=0, amplify_sent=0,
                           garbage_sent=0, connect_failed=0)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.slowloris, self.amplify, self.garbage)]
        self.held = []  # amplification connections: left open, the agent must close them

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def connect(self):
        try:
            s = socket.create_connection((self.host, self.port), timeout=2)
            s.setblocking(False)
            return s
        except OSError:
            self.count("connect_failed")
            return None

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        for s in self.held:
            s.close()
        return dict(self.counts)

    def slowloris(self):
        request = api_versions_request(1)
        conns = {}  # socket -> bytes sent
        while not self.stop.is_set():
            while len(conns) < self.sizes["slowloris"] and not self.stop.is_set():
                s = self.connect()
                if s is None:
                    break
                conns[s] = 0
                self.count("slowloris_opened")
            for s in list(conns):
                try:
                    if s.recv(1) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    self.count("slowloris_closed_by_agent")
                    del conns[s]
                    s.close()
                    continue
                try:
                    s.send(request[conns[s] % len(request):][:1])
                    conns[s] += 1
                except OSError:
                    pass
            self.stop.wait(2)
        for s in conns:
            s.close()

    def amplify(self):
        header = struct.pack(">ih", 100 << 20, 18)  # 100 MiB announced, ApiVersions
        while not self.stop.is_set():
            for _ in range(self.sizes["amplify_per_s"]):
                s = self.connect()
                if s is None:
                    continue
                try:
                    s.send(header)
                    self.count("amplify_sent")
                except OSError:
                    pass
                self.held.append(s)
            self.stop.wait(1)

    def garbage(self):
        rng = random.Random(7)
        while not self.stop.is_set():
            for _ in range(self.sizes["garbage_per_s"]):
                s = self.connect()
                if s is None:
                    continue
                try:
                    s.send(rng.randbytes(1024))
                    self.count("garbage_sent")
                except OSError:
                    pass
                s.close()
            self.stop.wait(1)


def broker_connections(pid, broker_ports):
    """Established TCP connections of process `pid` to one of `broker_ports`:
    its socket inodes, matched against the kernel's tables."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)  # the column names
            for line in f:
                field = line.split()
                # sl local_address rem_address st ... inode (field 9); 01: established
                if (len(field) > 9 and field[3] == "01" and field[9] in inodes
                        and int(field[2].rsplit(":", 1)[1], 16) in broker_ports):
                    n += 1
    return n


class RssSampler:
    """Samples the agent's RSS every 100 ms, and every second its broker
    connections; keeps the peaks."""

    def __init__(self, process, broker_ports):
        self.process, self.peak, self.stop = process, 0.0, threading.Event()
        self.broker_ports, self.peak_brokers = broker_ports, 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        tick = 0
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.rss_mib())
            if tick % 10 == 0:
                self.peak_brokers = max(self.peak_brokers, broker_connections(
                    self.process.measured_pid, self.broker_ports))
            tick += 1
            self.stop.wait(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def metrics(http_port, prefixes):
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(prefixes):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def legit_load(args, cluster, sizes, bootstrap, tag):
    """The legitimate clients: a producer as fast as it goes, then a paced
    latency probe. A failed request fails the whole workload."""
    res, failures = {}, []
    compare.loadgen(args, "create-topic", "--bootstrap", cluster["KGW_KAFKA_BOOTSTRAP"],
                    "--topic", tag, "--partitions", "6")
    try:
        res["produce"] = compare.loadgen(args, "produce", "--bootstrap", bootstrap, "--topic", tag,
                                         "--records", str(sizes["records"]))
    except compare.Failure as e:
        failures.append(str(e))
    try:
        res["latency"] = compare.loadgen(args, "latency", "--bootstrap", bootstrap, "--topic", tag,
                                         "--rate", str(sizes["rate"]),
                                         "--seconds", str(sizes["seconds"]))
    except compare.Failure as e:
        failures.append(str(e))
    return res, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not figures")
    ap.add_argument("--budget-mib", type=int, default=128,
                    help="GATEWAY_MAX_BUFFERED_REQUEST_BYTES of the agent under attack "
                         "(at least 100: the agent keeps its default 100 MiB frame limit, and "
                         "the amplification attack announces frames of that size)")
    ap.add_argument("--build-dir", default=os.path.join(compare.ROOT, "build"))
    ap.add_argument("--state-dir", default="/tmp/kgw-bench")
    ap.add_argument("--port-base", type=int, default=23000,
                    help="ports used: base+90.. (Kafka), +800 (relay), +899.. (kgw)")
    ap.add_argument("--use-running-cluster", action="store_true",
                    help="use the cluster named by KGW_KAFKA_* instead of starting one")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.budget_mib < 100:
        ap.error("--budget-mib must be at least 100 (the frame limit the attack announces)")
    compare.raise_file_limit()
    os.makedirs(args.state_dir, exist_ok=True)
    state = tempfile.mkdtemp(prefix="hostile-", dir=args.state_dir)
    kdir = None
    agent = None
    try:
        if args.use_running_cluster:
            cluster = dict(os.environ)
            if "KGW_KAFKA_BOOTSTRAP" not in cluster:
                raise compare.Failure("--use-running-cluster needs KGW_KAFKA_BOOTSTRAP")
        else:
            cluster, kdir = compare.start_cluster(args, state)
        budget = args.budget_mib << 20
        os.environ["GATEWAY_MAX_BUFFERED_REQUEST_BYTES"] = str(budget)
        os.environ["GATEWAY_MAX_FRAME_SIZE"] = str(100 << 20)
        target = compare.start_kgw(args, cluster, state)
        agent = target.process
        http = args.port_base + 899
        port = args.port_base + 900
        rss_start = agent.rss_mib()
        broker_ports = {int(b.rsplit(":", 1)[1])
                        for b in cluster["KGW_KAFKA_BOOTSTRAP"].split(",")}

        # A warm-up, discarded: the first run through a fresh agent and
        # brokers is slower, and would flatter the loaded run after it.
        compare.log("warm-up run (discarded)")
        legit_load(args, cluster, dict(sizes, records=sizes["records"] // 3,
                                       seconds=max(2, sizes["seconds"] // 4)),
                   target.bootstrap, f"kgw-hostile-{os.getpid()}-warmup")
        compare.log("quiet run")
        cpu0 = agent.cpu_seconds()
        with RssSampler(agent, broker_ports) as quiet_rss:
            quiet, quiet_failures = legit_load(args, cluster, sizes, target.bootstrap,
                                               f"kgw-hostile-{os.getpid()}-quiet")
        compare.log("loaded run: attackers start")
        attack = Attack("127.0.0.1", port, sizes)
        attack.start()
        time.sleep(3)  # let the attack build up before measuring
        cpu1 = agent.cpu_seconds()
        t1 = time.monotonic()
        with RssSampler(agent, broker_ports) as loaded_rss:
            loaded, loaded_failures = legit_load(args, cluster, sizes, target.bootstrap,
                                                 f"kgw-hostile-{os.getpid()}-loaded")
        cpu2 = agent.cpu_seconds()
        loaded_s = time.monotonic() - t1
        counts = attack.finish()
        refused = metrics(http, ("kgw_agent_closed_for_bad_input_total",
                                 "kgw_agent_connections_refused_total",
                                 "kgw_agent_request_buffer_waits_total"))
        alive = agent.alive()

        def get(run, workload, key):
            return run.get(workload, {}).get(key)

        q_mb, l_mb = get(quiet, "produce", "mb_per_s"), get(loaded, "produce", "mb_per_s")
        q_p99, l_p99 = get(quiet, "latency", "p99_ms"), get(loaded, "latency", "p99_ms")
        result = {
            "sizes": sizes,
            "budget_mib": args.budget_mib,
            "rss_start_mib": rss_start,
            "rss_peak_quiet_mib": quiet_rss.peak,
            "rss_peak_loaded_mib": loaded_rss.peak,
            "broker_connections_peak": {"quiet": quiet_rss.peak_brokers,
                                        "loaded": loaded_rss.peak_brokers},
            "produce_mb_s": {"quiet": q_mb, "loaded": l_mb},
            "latency_p99_ms": {"quiet": q_p99, "loaded": l_p99},
            "agent_cpu_s": {"quiet": cpu1 - cpu0, "loaded": cpu2 - cpu1},
            "loaded_seconds": loaded_s,
            "legit_failures": quiet_failures + loaded_failures,
            "attack": counts,
            "agent_counted": refused,
            "agent_alive": alive,
        }
        goals = [
            ("peak RSS <= budget + 64 MiB", loaded_rss.peak <= args.budget_mib + 64),
            ("throughput >= 0.9 x quiet", bool(q_mb and l_mb and l_mb >= 0.9 * q_mb)),
            ("p99 <= 1.5 x quiet", bool(q_p99 and l_p99 and l_p99 <= 1.5 * q_p99)),
            ("no legitimate request failed", not result["legit_failures"]),
            ("the agent survived", alive),
        ]
        result["goals"] = {name: ok for name, ok in goals}
        print(f"agent RSS: {rss_start:.1f} MiB at start, peak {quiet_rss.peak:.1f} MiB quiet, "
              f"{loaded_rss.peak:.1f} MiB under attack (budget {args.budget_mib} MiB)")
        print(f"agent's broker connections: at most {quiet_rss.peak_brokers} quiet, "
              f"{loaded_rss.peak_brokers} under attack")
        print(f"produce: {q_mb and round(q_mb, 1)} MB/s quiet, {l_mb and round(l_mb, 1)} MB/s "
              f"under attack")
        print(f"latency p99: {q_p99 and round(q_p99, 1)} ms quiet, {l_p99 and round(l_p99, 1)} ms "
              f"under attack")
        print(f"agent CPU: {cpu1 - cpu0:.1f} s quiet, {cpu2 - cpu1:.1f} s under attack "
              f"({loaded_s:.0f} s)")
        print("attackers: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        print("agent counted: " + ", ".join(f"{k} {v:g}" for k, v in sorted(refused.items())))
        for name, ok in goals:
            print(f"goal {'met   ' if ok else 'MISSED'} {name}")
        for f in result["legit_failures"]:
            print(f"legitimate failure: {f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        return 0
    except compare.Failure as e:
        compare.log(f"error: {e}")
        return 1
    finally:
        if agent is not None:
            agent.stop()
        if kdir is not None:
            compare.subprocess.run([compare.HARNESS, "stop", "--dir", kdir],
                                   stdout=compare.subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
