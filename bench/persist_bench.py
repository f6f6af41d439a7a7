#!/usr/bin/python3
"""persist_bench.py — persistence costs, mnemo-server and redis-server side by side.

Part 1, writes: `redis-benchmark -c 50 -d 32 -r 1000000 -t set --csv` against each server with
persistence off, appendfsync everysec and appendfsync always (redis-server: --appendonly yes,
its AOF; mnemo-server: --appendonly yes, its log), every server's files in a fresh directory
under --workdir (one disk for both). Runs alternate mnemo/redis, --rounds times; medians of
requests/s, p99 (redis-benchmark's CSV) and server CPU per request (utime+stime of the server
process from /proc/PID/stat, read before and after the run, divided by the requests). Each
server's everysec and always are also given as a ratio of its own `off`.

Part 2, restarts: --keys (default 1M and 5M) distinct keys (16-byte keys, 32-byte values) are
loaded through `redis-cli --pipe`; redis-server then SAVEs its RDB, mnemo-server takes its
snapshot (SAVE); each is stopped and started again on its files, and the time from the
process start until it answers PING is measured (both binaries load before they accept
clients), with keys/s.

Figures are printed; nothing is asserted. Servers are stopped at the end and on errors.

    /usr/bin/python3 bench/persist_bench.py [--mnemo build/mnemo-server] [--rounds 3]
        [--keys 1000000,5000000] [--workdir DIR] [--skip-writes] [--skip-restart]
"""
import argparse
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import HOST, free_port, ping  # noqa: E402
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODES = ["off", "everysec", "always"]
# The same count in every mode: with 40000 under always (once a few thousand requests/s) a
# run lasted under a second from a cold start, and its p99 measured the start.
REQUESTS = {"off": 200000, "everysec": 200000, "always": 200000}


MNEMO_ARGS = []  # --mnemo-args


class Server:
    def __init__(self, kind, binary, mode, workdir):
        self.kind, self.mode = kind, mode
        self.dir = tempfile.mkdtemp(prefix="%s-%s-" % (kind, mode), dir=workdir)
        self.port = free_port()
        if kind == "redis":
            self.argv = [binary, "--port", str(self.port), "--bind", HOST, "--dir", self.dir,
                         "--save", "", "--daemonize", "no", "--logfile",
                         os.path.join(self.dir, "log")]
            if mode != "off":
                self.argv += ["--appendonly", "yes", "--appendfsync", mode]
        else:
            self.argv = [binary, "--port", str(self.port), "--bind", HOST, "--dir", self.dir,
                         "--logfile", os.path.join(self.dir, "log")] + MNEMO_ARGS
            if mode != "off":
                self.argv += ["--appendonly", "yes", "--appendfsync", mode]
        self.proc = None

    def start(self, timeout=600):
        t0 = time.time()
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        while not ping(self.port):
            if self.proc.poll() is not None or time.time() - t0 > timeout:
                raise RuntimeError("%s did not start: %s" % (self.kind, self.log_tail()))
            time.sleep(0.005)
        return time.time() - t0

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return "".join(f.readlines()[-5:])
        except OSError:
            return ""

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-h", HOST, "-p", str(self.port)] + list(args),
                              capture_output=True, text=True, timeout=3600).stdout.strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(600)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def bench_set(srv, n):
    c0 = srv.cpu_s()
    p = subprocess.run(["redis-benchmark", "-h", HOST, "-p", str(srv.port), "-c", "50", "-d",
                        "32", "-r", "1000000", "-n", str(n), "-t", "set", "--csv"],
                       capture_output=True, text=True, timeout=1800)
    c1 = srv.cpu_s()
    lines = [l for l in p.stdout.splitlines() if l.startswith('"SET"')]
    if not lines:
        raise RuntimeError("redis-benchmark: " + p.stdout + p.stderr)
    f = [x.strip('"') for x in lines[0].split(",")]
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
    # "p99_latency_ms","max_latency_ms"
    return {"rps": float(f[1]), "p99": float(f[6]), "cpu_us": (c1 - c0) * 1e6 / n}


def part_writes(args):
    res = {}
    for r in range(args.rounds):
        for mode in MODES:
            for kind in ("mnemo", "redis"):
                srv = Server(kind, args.mnemo if kind == "mnemo" else args.redis, mode,
                             args.workdir)
                try:
                    srv.start()
                    row = bench_set(srv, REQUESTS[mode])
                finally:
                    srv.stop()
                    srv.remove()
                res.setdefault((kind, mode), []).append(row)
                print("  round %d %-5s %-8s %9.0f req/s  p99 %6.2f ms  %5.1f us CPU/req" %
                      (r + 1, kind, mode, row["rps"], row["p99"], row["cpu_us"]), flush=True)
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "p99", "cpu_us")}
           for k, v in res.items()}
    print()
    print("SET, 50 clients, 32-byte values; medians of %d rounds" % args.rounds)
    print("%-8s | %-31s | %-31s | %s" % ("", "mnemo-server", "redis-server", "mnemo/redis"))
    print("%-8s | %9s %8s %12s | %9s %8s %12s | %6s %6s %6s" %
          ("fsync", "req/s", "p99 ms", "CPU us/req", "req/s", "p99 ms", "CPU us/req",
           "req/s", "p99", "CPU"))
    for mode in MODES:
        a, b = med[("mnemo", mode)], med[("redis", mode)]
        print("%-8s | %9.0f %8.2f %12.1f | %9.0f %8.2f %12.1f | %6.2f %6.2f %6.2f" %
              (mode, a["rps"], a["p99"], a["cpu_us"], b["rps"], b["p99"], b["cpu_us"],
               a["rps"] / b["rps"], a["p99"] / b["p99"], a["cpu_us"] / b["cpu_us"]))
    print()
    print("each server against its own 'off' (throughput ratio, CPU/request ratio; medians of "
          "the rounds' own ratios, each round's runs being seconds apart)")
    for kind in ("mnemo", "redis"):
        off = med[(kind, "off")]
        for mode in ("everysec", "always"):
            m = med[(kind, mode)]
            pairs = list(zip(res[(kind, "off")], res[(kind, mode)]))
            rr = statistics.median(b["rps"] / a["rps"] for a, b in pairs)
            rc = statistics.median(b["cpu_us"] / a["cpu_us"] for a, b in pairs)
            print("  %-5s %-8s  throughput %.2fx   CPU/request %.2fx   p99 %.2f -> %.2f ms" %
                  (kind, mode, rr, rc, off["p99"], m["p99"]))
    print(flush=True)


def load_keys(srv, n):
    """n distinct keys: key:%012d (16 bytes), 32-byte values, through redis-cli --pipe."""
    path = os.path.join(srv.dir, "load.resp")
    with open(path, "wb") as f:
        chunk = []
        for i in range(n):
            k = b"key:%012d" % i
            v = b"v%031d" % i
            chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$32\r\n%s\r\n" % (k, v))
            if len(chunk) == 100000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-h", HOST, "-p", str(srv.port), "--pipe"], stdin=f,
                       capture_output=True, timeout=3600, check=True)
    os.unlink(path)


def part_restart(args):
    print("restart: time from process start to PING, after SAVE (Redis: RDB; mnemo: snapshot)")
    for n in args.keys:
        out = {}
        for kind in ("mnemo", "redis"):
            srv = Server(kind, args.mnemo if kind == "mnemo" else args.redis,
                         "everysec" if kind == "mnemo" else "off", args.workdir)
            try:
                srv.start()
                load_keys(srv, n)
                got = int(srv.cli("DBSIZE"))
                srv.cli("SAVE")
                fork_us = [l for l in srv.cli("INFO", "persistence").splitlines()
                           if l.startswith("latest_fork_usec:")]
                size = sum(os.path.getsize(os.path.join(dp, f))
                           for dp, _, fs in os.walk(srv.dir) for f in fs
                           if f.endswith((".rdb", ".msnap", ".mlog")))
                srv.stop()
                times = []
                for _ in range(args.restart_rounds):
                    times.append(srv.start())
                    assert int(srv.cli("DBSIZE")) == got
                    srv.stop()
                t = statistics.median(times)
                out[kind] = t
                print("  %-5s %9d keys  files %7.1f MB  restart %6.2f s  %10.0f keys/s "
                      "(median of %d)  SAVE's fork: %s us" %
                      (kind, got, size / 1e6, t, got / t, args.restart_rounds,
                       fork_us[0].split(":")[1] if fork_us else "?"), flush=True)
            finally:
                srv.stop()
                srv.remove()
        print("  %d keys: mnemo restarts %.2fx faster than redis" %
              (n, out["redis"] / out["mnemo"]), flush=True)
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnemo", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                    "mnemo-server"))
    ap.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--mnemo-args", default="",
                    help="extra mnemo-server arguments, one shell-quoted string, e.g. "
                         "'--threads 1' (A/B runs of one setting)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--restart-rounds", type=int, default=3)
    ap.add_argument("--keys", default="1000000,5000000")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--skip-writes", action="store_true")
    ap.add_argument("--skip-restart", action="store_true")
    args = ap.parse_args()
    MNEMO_ARGS[:] = shlex.split(args.mnemo_args)
    args.keys = [int(x) for x in args.keys.split(",") if x]
    own = args.workdir is None
    # Default: under build/, on the same disk as the checkout, outside the sources.
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="persist-bench-",
                                                    dir=os.path.join(root, "build"))
    try:
        print("machine: %d CPUs, %s; files under %s" %
              (os.cpu_count(), os.uname().release, args.workdir))
        print("redis: %s" % subprocess.run([args.redis, "--version"], capture_output=True,
                                           text=True).stdout.strip())
        print(flush=True)
        if not args.skip_writes:
            part_writes(args)
        if not args.skip_restart:
            part_restart(args)
    finally:
        if own:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
