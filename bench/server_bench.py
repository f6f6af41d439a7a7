#!/usr/bin/python3
"""server_bench.py — mnemo-server and redis-server side by side, under redis-benchmark.

Starts both servers itself on free loopback ports (redis-server with --save '' --appendonly no,
mnemo-server with --threads N), runs redis-benchmark against them in alternation (mnemo, redis,
mnemo, redis, ... so that drift on the machine affects both alike), with the same flags:

    redis-benchmark -h 127.0.0.1 -p PORT -c 50 -d 32 -r 1000000 -n N -t TEST -q --csv [-P 16]

one test per invocation (set, get, incr, mset, in redis-benchmark's own order) so that the
server's CPU time can be charged to one test: user+system time of all the server's threads
(/proc/PID/stat fields utime+stime, clock ticks) read right before and right after each run,
divided by the requests of that run. Each row is repeated (--rounds, default 3) and the medians
are reported: requests/s, p50 and p99 latency (redis-benchmark's CSV), server CPU µs/request,
and the ratios mnemo/redis next to the targets (printed, never asserted).

Only 127.0.0.1 is used, request counts are bounded, and both servers are stopped at the end,
on error and on Ctrl-C.

It also reports, per run, the CPU that other processes used meanwhile ("other load": the
benchmark shares the machine's cores, so other work skews it; --max-other-load repeats noisy
pairs) and redis-benchmark's own CPU per request (when the client is at 1 CPU it, not the
server, limits the throughput).

    /usr/bin/python3 bench/server_bench.py [--threads 1,2] [-n 200000] [--pipeline-n N]
        [--mnemo-args '--io-engine uring']
        [--rounds 3] [--mnemo build/mnemo-server] [--max-other-load PCT [--retries 2]]
        [--csv-out FILE] [--raw-out FILE] [--md-out FILE] [--plot FILE.png]
    /usr/bin/python3 bench/server_bench.py --from-raw FILE [--csv-out ...]   (summarize again)

Development aid: --mnemo redis runs redis-server against itself (validates the harness and
shows the noise floor: every ratio should be 1).
"""

import argparse
import csv
import datetime
import hashlib
import io
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (HOST, Server, cpu_model, free_port, git_commit,  # noqa: E402
                      mem_total_gib)
TESTS = ["set", "get", "incr", "mset"]          # redis-benchmark's order: GET after SET
CSV_NAMES = {"SET": "set", "GET": "get", "INCR": "incr", "MSET (10 keys)": "mset"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT = 900                                # seconds; one redis-benchmark run never takes longer

# Targets, mnemo/redis (printed next to the ratios, never asserted).
TARGET_RPS = 1.0        # throughput >= redis
TARGET_P99 = 1.0        # p99 <= redis
TARGET_CPU = {1: 0.6, 16: 0.5}   # CPU/request <= 0.6x redis (no pipelining), 0.5x (-P 16)


def base_flags(n):
    return ["-c", "50", "-d", "32", "-r", "1000000", "-n", str(n)]


# --------------------------------------------------------------------------------------------
# servers

def redis_server_argv(binary, port):
    return [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--protected-mode", "yes"]


def mnemo_server_argv(binary, port, threads, extra=()):
    return [binary, "--port", str(port), "--bind", HOST, "--threads", str(threads)] + list(extra)


# --------------------------------------------------------------------------------------------
# one redis-benchmark run

def machine_busy_ticks():
    """Busy clock ticks of the whole machine, all CPUs (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]     # user nice system idle iowait irq softirq steal


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_benchmark(server, test, n, pipeline, rb):
    argv = [rb, "-h", HOST, "-p", str(server.port)] + base_flags(n) + ["-t", test, "-q", "--csv"]
    if pipeline > 1:
        argv += ["-P", str(pipeline)]
    busy0, client0 = machine_busy_ticks(), children_cpu_s()
    before = server.cpu_ticks()
    t0 = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    wall = time.monotonic() - t0
    after = server.cpu_ticks()
    busy1, client1 = machine_busy_ticks(), children_cpu_s()
    if out.returncode != 0:
        raise RuntimeError("redis-benchmark failed (%d) against %s: %s" % (
            out.returncode, server.name, out.stderr.strip()))
    if not server.alive():
        raise RuntimeError("%s died during %s; log %s:\n%s" % (
            server.name, test, server.log_path, server.log_tail()))
    rows = [r for r in csv.DictReader(io.StringIO(out.stdout)) if r.get("test") in CSV_NAMES]
    if len(rows) != 1 or CSV_NAMES[rows[0]["test"]] != test:
        raise RuntimeError("unexpected redis-benchmark output for %s:\n%s\n%s" % (
            test, out.stdout, out.stderr))
    r = rows[0]
    cpu_s = (after - before) / CLK_TCK
    return {
        "n": n,
        "rps": float(r["rps"]),
        "avg_ms": float(r["avg_latency_ms"]),
        "p50_ms": float(r["p50_latency_ms"]),
        "p99_ms": float(r["p99_latency_ms"]),
        "max_ms": float(r["max_latency_ms"]),
        "cpu_s": cpu_s,
        "cpu_ticks": after - before,
        "cpu_us_per_req": cpu_s * 1e6 / n,
        "client_cpu_s": client1 - client0,
        # CPU used by everything else on the machine during the run, in % of all CPUs: other
        # work skews the figures (the servers and redis-benchmark share the same cores).
        "background_pct": max(0.0, ((busy1 - busy0) / CLK_TCK - cpu_s - (client1 - client0))
                              * 100 / (wall * (os.cpu_count() or 1))),
        "wall_s": wall,
    }


def run_pair(servers, rnd, test, pipeline, args, rb):
    """One run against each server, in order (mnemo, redis), printed as they finish."""
    pair = []
    for s in servers:
        n = args.pipeline_n if (pipeline > 1 and args.pipeline_n) else args.n
        res = run_benchmark(s, test, n, pipeline, rb)
        pair.append((s, res))
        print("  round %d  P%-2d %-4s  %-5s %10.0f req/s  p50 %6.3f  p99 %6.3f ms"
              "  cpu %6.2f us/req (%d ticks)  %5.1f s  other load %4.1f%%" % (
                  rnd, pipeline, test, s.name, res["rps"], res["p50_ms"], res["p99_ms"],
                  res["cpu_us_per_req"], res["cpu_ticks"], res["wall_s"], res["background_pct"]),
              flush=True)
    return pair


# --------------------------------------------------------------------------------------------
# reporting

def machine_header(args, rb, redis_bin, mnemo_bin):
    def sh(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    model, mem_gib = cpu_model(), mem_total_gib()
    if mnemo_bin == "redis":
        mver = "redis-server standing in for mnemo (harness validation)"
    else:
        with open(mnemo_bin, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        mtime = datetime.datetime.fromtimestamp(os.path.getmtime(mnemo_bin), datetime.timezone.utc)
        mver = "%s (%s, built %s, sha256 %s)" % (sh([mnemo_bin, "--version"]) or "?", mnemo_bin,
                                                 mtime.strftime("%Y-%m-%d %H:%M UTC"), digest)
    commit = git_commit(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    flags = " ".join(base_flags(args.n)) + " -t <test> -q --csv   (then the same with -P %s%s)" % (
        ",".join(str(p) for p in args.pipelines if p > 1) or "-",
        ", -n %d" % args.pipeline_n if args.pipeline_n else "")
    lines = [
        "date:            %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine:         %d x %s, %.1f GiB, %s %s" % (os.cpu_count(), model, mem_gib,
                                                      platform.system(), platform.release()),
        "load:            %s (1/5/15 min, at start)" % " ".join(open("/proc/loadavg").read().split()[:3]),
        "redis-server:    %s" % sh([redis_bin, "--version"]),
        "redis-benchmark: %s" % sh([rb, "--version"]),
        "mnemo-server:    %s" % mver,
        "commit:          %s" % commit,
        "flags:           redis-benchmark -h 127.0.0.1 -p PORT %s" % flags,
        "tests:           %s, one redis-benchmark per test, servers alternated mnemo, redis, ..." % ", ".join(TESTS),
        "rounds:          %d, medians reported; CPU = utime+stime of the server process "
        "(/proc/PID/stat, %d ticks/s) / requests" % (args.rounds, CLK_TCK),
        "redis config:    --save '' --appendonly no (single-threaded, io-threads 1)",
        "mnemo threads:   %s" % ", ".join(str(t) for t in args.threads),
        "mnemo args:      %s" % (" ".join(args.mnemo_args) or "-"),
    ]
    return lines


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def summarize(results, args):
    """results[(threads, pipeline, test, server)] = [run, ...] -> list of summary rows."""
    rows = []
    for threads in args.threads:
        for pipeline in args.pipelines:
            for test in TESTS:
                m = results.get((threads, pipeline, test, "mnemo"))
                r = results.get((threads, pipeline, test, "redis"))
                if not m or not r:
                    continue
                row = {"threads": threads, "pipeline": pipeline, "test": test,
                       "rounds": min(len(m), len(r))}
                for who, runs in (("mnemo", m), ("redis", r)):
                    for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req"):
                        row["%s_%s" % (who, key)] = median_of(runs, key)
                row["ratio_rps"] = row["mnemo_rps"] / row["redis_rps"]
                row["ratio_p99"] = row["mnemo_p99_ms"] / row["redis_p99_ms"] if row["redis_p99_ms"] else float("nan")
                row["ratio_cpu"] = (row["mnemo_cpu_us_per_req"] / row["redis_cpu_us_per_req"]
                                    if row["redis_cpu_us_per_req"] else float("nan"))
                row["target_cpu"] = TARGET_CPU.get(pipeline, TARGET_CPU[16])
                for who, runs in (("mnemo", m), ("redis", r)):
                    row["%s_client_us_per_req" % who] = statistics.median(
                        x["client_cpu_s"] * 1e6 / x["n"] for x in runs)
                    row["%s_server_util" % who] = statistics.median(x["cpu_s"] / x["wall_s"] for x in runs)
                    row["%s_client_util" % who] = statistics.median(
                        x["client_cpu_s"] / x["wall_s"] for x in runs)
                # Each round's two runs are seconds apart, while the host's speed drifts over
                # minutes: the ratio within a round cancels the drift that the ratio of the two
                # medians (the verdict, as before) mixes in.
                row["paired_cpu"] = [a["cpu_us_per_req"] / b["cpu_us_per_req"]
                                     for a, b in zip(m, r) if b["cpu_us_per_req"]]
                row["med_other_load_pct"] = statistics.median(x["background_pct"] for x in m + r)
                row["max_other_load_pct"] = max(x["background_pct"] for x in m + r)
                rows.append(row)
    return rows


CSV_FIELDS = ["threads", "pipeline", "test", "rounds",
              "mnemo_rps", "redis_rps", "ratio_rps",
              "mnemo_p50_ms", "redis_p50_ms", "mnemo_p99_ms", "redis_p99_ms", "ratio_p99",
              "mnemo_cpu_us_per_req", "redis_cpu_us_per_req", "ratio_cpu", "target_cpu",
              "med_other_load_pct", "max_other_load_pct",
              "mnemo_client_us_per_req", "redis_client_us_per_req",
              "mnemo_server_util", "redis_server_util", "mnemo_client_util", "redis_client_util"]


def verdict(ok):
    return "ok" if ok else "MISS"


def format_table(rows):
    head = ("thr  P  test |   mnemo req/s  redis req/s ratio (>=1) |"
            "  p50 ms mnemo/redis   p99 ms mnemo/redis ratio (<=1) |"
            " CPU us/req mnemo/redis ratio (target)   | other load med/max")
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(
            "%-3d %-3d %-4s | %12.0f %12.0f %5.2f %-5s |"
            " %7.3f / %-7.3f  %7.3f / %-7.3f %5.2f %-5s |"
            " %7.2f / %-7.2f %5.2f (<=%.1f) %-4s | %3.0f%% / %3.0f%%" % (
                r["threads"], r["pipeline"], r["test"],
                r["mnemo_rps"], r["redis_rps"], r["ratio_rps"], verdict(r["ratio_rps"] >= TARGET_RPS),
                r["mnemo_p50_ms"], r["redis_p50_ms"], r["mnemo_p99_ms"], r["redis_p99_ms"],
                r["ratio_p99"], verdict(r["ratio_p99"] <= TARGET_P99),
                r["mnemo_cpu_us_per_req"], r["redis_cpu_us_per_req"], r["ratio_cpu"],
                r["target_cpu"], verdict(r["ratio_cpu"] <= r["target_cpu"]),
                r["med_other_load_pct"], r["max_other_load_pct"]))
    return out


def format_markdown(rows):
    out = ["| threads | -P | test | mnemo req/s | redis req/s | ratio (≥1) | p50 ms mnemo / redis |"
           " p99 ms mnemo / redis | ratio (≤1) | CPU µs/req mnemo / redis | ratio (target) |"
           " other load med / max |",
           "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append("| %d | %d | %s | %.0f | %.0f | %.2f %s | %.3f / %.3f | %.3f / %.3f | %.2f %s |"
                   " %.2f / %.2f | %.2f (≤%.1f) %s | %.0f%% / %.0f%% |" % (
                       r["threads"], r["pipeline"], r["test"], r["mnemo_rps"], r["redis_rps"],
                       r["ratio_rps"], "✓" if r["ratio_rps"] >= TARGET_RPS else "✗",
                       r["mnemo_p50_ms"], r["redis_p50_ms"], r["mnemo_p99_ms"], r["redis_p99_ms"],
                       r["ratio_p99"], "✓" if r["ratio_p99"] <= TARGET_P99 else "✗",
                       r["mnemo_cpu_us_per_req"], r["redis_cpu_us_per_req"], r["ratio_cpu"],
                       r["target_cpu"], "✓" if r["ratio_cpu"] <= r["target_cpu"] else "✗",
                       r["med_other_load_pct"], r["max_other_load_pct"]))
    return out


def load_raw(path):
    """--from-raw: the runs of an earlier --raw-out file, to summarize them again."""
    results, raw = {}, []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k in ("threads", "round", "pipeline", "attempt", "used", "cpu_ticks", "n"):
                    row[k] = int(v)
                elif k not in ("test", "server"):
                    row[k] = float(v)
            raw.append(row)
            if not row.get("used", 1):
                continue
            results.setdefault((row["threads"], row["pipeline"], row["test"], row["server"]),
                               []).append(row)
    return results, raw


# --------------------------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mnemo", default=None,
                   help="mnemo-server binary (default: build/mnemo-server next to this script); "
                        "'redis' runs redis-server against itself to validate the harness")
    p.add_argument("--mnemo-args", default="", metavar="ARGS",
                   help="extra mnemo-server arguments, one shell-quoted string, e.g. "
                        "'--io-engine uring' (A/B runs of one setting)")
    p.add_argument("--redis-server", default="redis-server", help="redis-server binary")
    p.add_argument("--redis-benchmark", default="redis-benchmark", help="redis-benchmark binary")
    p.add_argument("--threads", default="2",
                   help="mnemo worker threads; a list like 1,2,4 runs each (default 2)")
    p.add_argument("-n", "--requests", dest="n", type=int, default=200000,
                   help="requests per redis-benchmark run (default 200000, at most 10000000)")
    p.add_argument("--pipeline-n", type=int, default=None, metavar="N",
                   help="requests per pipelined run (default: -n); pipelined runs are short, "
                        "a larger N steadies their CPU figure (10 ms clock ticks)")
    p.add_argument("--rounds", type=int, default=3, help="repeats per row, medians reported (default 3)")
    p.add_argument("--pipelines", default="1,16",
                   help="pipeline depths, 1 = none (default 1,16)")
    p.add_argument("--tests", default=",".join(TESTS), help="subset of set,get,incr,mset")
    p.add_argument("--max-other-load", type=float, default=None, metavar="PCT",
                   help="repeat a mnemo/redis pair when other processes used more than PCT%% of "
                        "the machine during either run (at most --retries times; default: never)")
    p.add_argument("--retries", type=int, default=2, help="see --max-other-load (default 2)")
    p.add_argument("--from-raw", metavar="FILE",
                   help="run nothing: summarize the runs of an earlier --raw-out file again")
    p.add_argument("--csv-out", help="write the summary rows (medians and ratios) here")
    p.add_argument("--raw-out", help="write every single run here")
    p.add_argument("--md-out", help="write the header and a Markdown table here")
    p.add_argument("--plot", help="draw a PNG bar chart here (bench/plot_server.py, matplotlib)")
    a = p.parse_args()
    a.mnemo_args = shlex.split(a.mnemo_args)
    try:
        a.threads = [int(x) for x in a.threads.split(",") if x]
        a.pipelines = [int(x) for x in a.pipelines.split(",") if x]
    except ValueError:
        p.error("--threads and --pipelines take comma-separated integers")
    if not a.threads or min(a.threads) < 1 or max(a.threads) > 256:
        p.error("--threads: 1..256")
    if not a.pipelines or min(a.pipelines) < 1 or max(a.pipelines) > 1000:
        p.error("--pipelines: 1..1000")
    if not 1000 <= a.n <= 10_000_000:
        p.error("-n: 1000..10000000 (request counts are bounded)")
    if a.pipeline_n is not None and not 1000 <= a.pipeline_n <= 10_000_000:
        p.error("--pipeline-n: 1000..10000000 (request counts are bounded)")
    if not 1 <= a.rounds <= 20:
        p.error("--rounds: 1..20")
    tests = [t for t in a.tests.split(",") if t]
    if not tests or any(t not in TESTS for t in tests):
        p.error("--tests: subset of %s" % ",".join(TESTS))
    global TESTS_RUN
    TESTS_RUN = [t for t in TESTS if t in tests]
    if a.mnemo is None:
        a.mnemo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "build", "mnemo-server")
    return a


TESTS_RUN = TESTS


def main():
    args = parse_args()
    rb = shutil.which(args.redis_benchmark) or sys.exit("server_bench: %s not found" % args.redis_benchmark)
    redis_bin = shutil.which(args.redis_server) or sys.exit("server_bench: %s not found" % args.redis_server)
    mnemo_bin = args.mnemo
    if mnemo_bin != "redis":
        mnemo_bin = os.path.abspath(mnemo_bin)
        if not os.access(mnemo_bin, os.X_OK):
            sys.exit("server_bench: %s is not an executable (build it, or pass --mnemo PATH)" % mnemo_bin)

    # SIGTERM / SIGHUP behave like Ctrl-C: unwind, stop the servers.
    def _interrupt(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    if args.from_raw:
        results, raw = load_raw(args.from_raw)
        args.threads = sorted({k[0] for k in results})
        args.pipelines = sorted({k[1] for k in results})
        args.rounds = max(r["round"] for r in raw)
        args.n = int(raw[0]["n"])
        pn = {int(r["n"]) for r in raw if r["pipeline"] > 1}
        args.pipeline_n = max(pn) if pn and max(pn) != args.n else None
        header = ["summary of %s (runs made earlier; machine details in that run's output)" % args.from_raw]
        print(header[0])
        report(results, raw, header, args, interrupted=False)
        return
    header = machine_header(args, rb, redis_bin, mnemo_bin)
    for line in header:
        print(line)
    print(flush=True)

    results = {}
    raw = []
    logdir = tempfile.mkdtemp(prefix="server_bench.")
    servers = []
    interrupted = False
    try:
        for threads in args.threads:
            mport, rport = free_port(), free_port()
            while rport == mport:
                rport = free_port()
            if mnemo_bin == "redis":
                margv = redis_server_argv(redis_bin, mport)
            else:
                margv = mnemo_server_argv(mnemo_bin, mport, threads, args.mnemo_args)
            mnemo = Server("mnemo", margv, mport, logdir)
            redis = Server("redis", redis_server_argv(redis_bin, rport), rport, logdir)
            servers = [mnemo, redis]
            for s in servers:
                s.start()
            print("== threads=%d: mnemo pid %d port %d, redis pid %d port %d" % (
                threads, mnemo.proc.pid, mport, redis.proc.pid, rport), flush=True)
            for rnd in range(1, args.rounds + 1):
                for pipeline in args.pipelines:
                    for test in TESTS_RUN:
                        for attempt in range(1, args.retries + 2):
                            pair = run_pair(servers, rnd, test, pipeline, args, rb)
                            noisy = args.max_other_load is not None and \
                                max(res["background_pct"] for _, res in pair) > args.max_other_load
                            keep = not (noisy and attempt <= args.retries)
                            for s, res in pair:
                                if keep:
                                    results.setdefault((threads, pipeline, test, s.name), []).append(res)
                                raw.append(dict(threads=threads, round=rnd, pipeline=pipeline,
                                                test=test, server=s.name, attempt=attempt,
                                                used=int(keep), **res))
                            if keep:
                                break
                            print("  (other load above %.0f%%: pair discarded, repeating)"
                                  % args.max_other_load, flush=True)
            for s in servers:
                s.stop()
    except KeyboardInterrupt as e:
        interrupted = True
        print("\nserver_bench: interrupted (%s); stopping the servers" % (str(e) or "Ctrl-C"), file=sys.stderr)
    finally:
        for s in servers:
            s.stop()
        for s in servers:
            if s.proc is not None and s.proc.returncode not in (0, None, -signal.SIGTERM):
                print("server_bench: %s exited with status %s (log %s)" % (
                    s.name, s.proc.returncode, s.log_path), file=sys.stderr)

    report(results, raw, header, args, interrupted)


def report(results, raw, header, args, interrupted):
    rows = summarize(results, args)
    if not rows:
        sys.exit(130 if interrupted else 1)
    print()
    print("== medians of %d rounds; ratios are mnemo/redis; targets: throughput >= 1, p99 <= 1, "
          "CPU/request <= 0.6 (no pipelining) and <= 0.5 (-P 16). Printed, not asserted."
          % args.rounds)
    for line in format_table(rows):
        print(line)
    client = ["", "load generator (redis-benchmark) CPU µs/request and CPUs busy, mnemo run / redis run "
              "(a client near 1.0 CPU limits the throughput, not the server):"]
    for r in rows:
        client.append("  thr %d P%-2d %-4s  client %6.2f / %-6.2f us/req  client %.2f / %.2f CPU"
                      "  server %.2f / %.2f CPU" % (
                          r["threads"], r["pipeline"], r["test"], r["mnemo_client_us_per_req"],
                          r["redis_client_us_per_req"], r["mnemo_client_util"], r["redis_client_util"],
                          r["mnemo_server_util"], r["redis_server_util"]))
    for line in client:
        print(line)
    paired = ["", "CPU/request ratio within each round (mnemo/redis, the pair's runs seconds apart), "
              "and its median:"]
    for r in rows:
        if r["paired_cpu"]:
            paired.append("  thr %d P%-2d %-4s  %s  median %.2f" % (
                r["threads"], r["pipeline"], r["test"],
                " ".join("%.2f" % x for x in r["paired_cpu"]), statistics.median(r["paired_cpu"])))
    for line in paired:
        print(line)
    loads = sorted(r["background_pct"] for r in raw if r.get("used", 1))
    load_line = ("other load during the runs used (CPU of other processes, %% of the machine): "
                 "median %.1f%%, max %.1f%%, %d of %d runs above 10%%; %d runs discarded and "
                 "repeated" % (statistics.median(loads), loads[-1], sum(1 for x in loads if x > 10),
                               len(loads), sum(1 for r in raw if not r.get("used", 1))))
    if not args.from_raw:
        load_line += "; load average at the end %s" % " ".join(open("/proc/loadavg").read().split()[:3])
    print(load_line)
    if args.csv_out:
        with open(args.csv_out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
        print("\nwrote %s" % args.csv_out)
    if args.raw_out:
        with open(args.raw_out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(raw[0].keys()))
            w.writeheader()
            w.writerows(raw)
        print("wrote %s" % args.raw_out)
    if args.md_out:
        with open(args.md_out, "w") as f:
            f.write("```\n" + "\n".join(header) + "\n```\n\n" + "\n".join(format_markdown(rows)) +
                    "\n\n" + load_line + "\n\n```\n" + "\n".join(client[1:] + paired) +
                    "\n```\n")
        print("wrote %s" % args.md_out)
    if args.plot:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import plot_server
        plot_server.plot(rows, args.plot, title="mnemo-server vs redis-server — redis-benchmark "
                         "-c 50 -d 32 -r 1000000 -n %d%s, medians of %d rounds" % (
                             args.n, " (pipelined: -n %d)" % args.pipeline_n
                             if getattr(args, "pipeline_n", None) else "", args.rounds))
        print("wrote %s" % args.plot)
    if interrupted:
        sys.exit(130)


if __name__ == "__main__":
    main()
