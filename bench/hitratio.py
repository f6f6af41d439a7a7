#!/usr/bin/python3
"""hitratio.py — hit ratio at equal memory: mnemo-server and redis-server under one Zipf trace.

For every memory size (default 16, 32, 64, 128 MB) and every eviction policy, starts a fresh
server on a free loopback port with that maxmemory and policy:

    redis-server --port P --bind 127.0.0.1 --save '' --appendonly no \\
        --maxmemory <M>mb --maxmemory-policy <policy>          (allkeys-lru, allkeys-lfu)
    mnemo-server --port P --bind 127.0.0.1 --maxmemory <M>mb --maxmemory-policy <policy>
                                          (allkeys-lru, allkeys-lfu, allkeys-s3fifo, allkeys-random)

and runs build/hitratio against it: the same deterministic trace for every server (Zipf 0.99
over 4,000,000 keys of 16 bytes, 32-byte values, 10,000,000 requests, seed 1), each request a
GET followed by a SET when it missed, sent in pipelined windows of 64 GETs (bench/hitratio.c
explains the method). The figure reported is the steady-state hit ratio, over the last 50 % of
the requests (the cache starts empty); the whole-run ratio is in the CSV. After the run it reads
the server's DBSIZE, used_memory and evicted_keys (from the driver) and its RSS (VmRSS and VmHWM
of /proc/PID/status), then stops it.

Prints one line per run, a table of all runs, and per memory size the better Redis policy, the
better mnemo policy and the difference mnemo - redis in percentage points. Writes every run to a
CSV and, when more than one memory size was measured, draws docs/plots/hit_ratio.png with
bench/plot_hitratio.py. A policy that mnemo-server refuses at startup (or the maxmemory setting
itself, in a build that has none) is reported and skipped.

    /usr/bin/python3 bench/hitratio.py [--memory 16,32,64,128 | --only-64]
        [--redis-policies allkeys-lru,allkeys-lfu]
        [--mnemo-policies allkeys-lru,allkeys-lfu,allkeys-s3fifo,allkeys-random]
        [--requests 10000000] [--keys 4000000] [--theta 0.99] [--window 64] [--seed 1]
        [--mnemo build/mnemo-server | none] [--redis /usr/bin/redis-server]
        [--driver build/hitratio] [--mnemo-args 'SETTINGS'] [--redis-args 'SETTINGS']
        [--csv-out FILE] [--md-out FILE] [--plot FILE.png | --no-plot]
    /usr/bin/python3 bench/hitratio.py --from-csv FILE [--plot ...] [--md-out ...]   (no runs)

--mnemo-args / --redis-args add settings to every start of that server (e.g. mnemo's
watermarks); such runs are starred in the tables and the settings are printed below them.

Each run takes 25-60 s at 10 M requests on the 2-vCPU reference machine (shared), the default
sweep (4 sizes x 6 configurations) 13-18 minutes. --requests shortens it for a try, but the
recorded figures use the defaults, which are the issue's parameters.
"""

import argparse
import csv
import datetime
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import (HOST, Server, StartError, cpu_model, free_port,  # noqa: E402
                      git_commit, mem_total_gib)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER_TIMEOUT = 1800      # seconds for one run of the driver; 10 M requests take well under 60

CSV_FIELDS = ["memory_mb", "server", "policy", "steady_hit_ratio", "hit_ratio", "dbsize",
              "used_memory", "rss_bytes", "hwm_bytes", "evicted_keys", "requests", "keys",
              "theta", "seed", "window", "warmup", "requests_per_s", "seconds", "set_errors",
              "repeat_misses", "version", "extra_args", "steady_ceiling_hit_ratio",
              "ceiling_hit_ratio"]


# --------------------------------------------------------------------------------------------
# servers (benchlib.py: free_port, ping, Server)

def server_argv(args, server, port, memory_mb, policy):
    if server == "redis":
        return [args.redis, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly",
                "no", "--daemonize", "no", "--maxmemory", "%dmb" % memory_mb,
                "--maxmemory-policy", policy] + shlex.split(args.redis_args)
    return [args.mnemo, "--port", str(port), "--bind", HOST, "--maxmemory", "%dmb" % memory_mb,
            "--maxmemory-policy", policy] + shlex.split(args.mnemo_args)


def version_of(args, server):
    binary = args.redis if server == "redis" else args.mnemo
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return out.strip().split("\n")[0][:40] or "?"


# --------------------------------------------------------------------------------------------
# one run

def run_one(args, server, memory_mb, policy, workdir):
    """Starts a fresh server, runs the driver against it, returns the row (a dict)."""
    port = free_port()
    srv = Server("%s-%s-%dmb" % (server, policy, memory_mb),
                 server_argv(args, server, port, memory_mb, policy), port, workdir)
    srv.start()
    try:
        argv = [args.driver, "-h", HOST, "-p", str(port), "-n", str(args.requests),
                "-k", str(args.keys), "-s", str(args.theta), "-w", str(args.window),
                "--seed", str(args.seed), "--csv"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
        if out.returncode != 0:
            raise RuntimeError("hitratio failed against %s (%d): %s" % (
                srv.name, out.returncode, out.stderr.strip()))
        if not srv.alive():
            raise RuntimeError("%s died during the run: %s" % (srv.name, srv.log_tail()))
        rss, hwm = srv.status_kb("VmRSS") * 1024, srv.status_kb("VmHWM") * 1024
    finally:
        srv.stop()
    rows = list(csv.DictReader(out.stdout.splitlines()))
    if len(rows) != 1:
        raise RuntimeError("unexpected output of hitratio:\n" + out.stdout + out.stderr)
    d = rows[0]
    if out.stderr.strip():
        print("    (hitratio: %s)" % out.stderr.strip(), flush=True)
    return {
        "memory_mb": memory_mb, "server": server, "policy": policy,
        "steady_hit_ratio": float(d["steady_hit_ratio"]), "hit_ratio": float(d["hit_ratio"]),
        "dbsize": int(d["dbsize"]), "used_memory": int(d["used_memory"]),
        "rss_bytes": rss, "hwm_bytes": hwm, "evicted_keys": int(d["evicted_keys"]),
        "requests": int(d["requests"]), "keys": int(d["keys"]), "theta": float(d["theta"]),
        "seed": int(d["seed"]), "window": int(d["window"]), "warmup": float(d["warmup"]),
        "requests_per_s": float(d["requests_per_s"]), "seconds": float(d["seconds"]),
        "set_errors": int(d["set_errors"]), "repeat_misses": int(d["repeat_misses"]),
        "version": args.versions[server],
        "extra_args": args.redis_args if server == "redis" else args.mnemo_args,
        "steady_ceiling_hit_ratio": float(d["steady_ceiling_hit_ratio"]),
        "ceiling_hit_ratio": float(d["ceiling_hit_ratio"]),
    }


def mnemo_has_maxmemory(args, workdir):
    """Whether this mnemo-server accepts a maxmemory setting at all (one short start)."""
    port = free_port()
    srv = Server("mnemo-probe", [args.mnemo, "--port", str(port), "--bind", HOST,
                                 "--maxmemory", "16mb"], port, workdir)
    try:
        srv.start()
    except StartError as e:
        return False, str(e)
    srv.stop()
    return True, ""


# --------------------------------------------------------------------------------------------
# reporting

def mib(x):
    return "%.1f" % (x / 1048576.0)


def config_label(r):
    """The policy, starred if the server had extra settings (see extra_notes)."""
    return r["policy"] + ("*" if r.get("extra_args") else "")


def extra_notes(rows):
    notes = sorted({(r["server"], r["extra_args"]) for r in rows if r.get("extra_args")})
    return ["* %s-server started with %s" % n for n in notes]


def format_table(rows):
    head = ("memory", "server", "policy", "hit ratio", "(whole run)", "keys held", "used_memory",
            "RSS MiB", "evicted", "req/s")
    lines = ["%-6s  %-6s  %-15s %9s %12s %10s %12s %8s %10s %8s" % head]
    for r in rows:
        lines.append("%-6s  %-6s  %-15s %9.4f %12.4f %10d %12s %8s %10d %8.0f" % (
            "%d MB" % r["memory_mb"], r["server"], config_label(r), r["steady_hit_ratio"],
            r["hit_ratio"], r["dbsize"], mib(r["used_memory"]) + " MiB", mib(r["rss_bytes"]),
            r["evicted_keys"], r["requests_per_s"]))
    return "\n".join(lines)


def best_per_memory(rows):
    """{memory_mb: {server: best row}} by steady hit ratio."""
    best = {}
    for r in rows:
        b = best.setdefault(r["memory_mb"], {})
        if r["server"] not in b or r["steady_hit_ratio"] > b[r["server"]]["steady_hit_ratio"]:
            b[r["server"]] = r
    return best


def format_summary(rows):
    best = best_per_memory(rows)
    lines = ["%-6s  %-30s %-30s %16s %12s" % ("memory", "redis (best policy)",
                                              "mnemo (best policy)", "mnemo - redis",
                                              "keys mnemo/redis")]
    for m in sorted(best):
        b = best[m]
        rd, mn = b.get("redis"), b.get("mnemo")
        def cell(r):
            return "%.4f (%s)" % (r["steady_hit_ratio"], config_label(r)) if r else "-"
        diff = "%+.2f points" % (100 * (mn["steady_hit_ratio"] - rd["steady_hit_ratio"])) \
            if rd and mn else "-"
        keys = "%.2f" % (mn["dbsize"] / rd["dbsize"]) if rd and mn and rd["dbsize"] else "-"
        lines.append("%-6s  %-30s %-30s %16s %12s" % ("%d MB" % m, cell(rd), cell(mn), diff, keys))
    return "\n".join(lines)


def md_label(r):
    return config_label(r).replace("*", "\\*")


def format_markdown(rows):
    out = ["| memory | server | policy | hit ratio (steady) | whole run | keys held | "
           "used_memory MiB | RSS MiB | evicted keys |",
           "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append("| %d MB | %s | %s | %.4f | %.4f | %d | %s | %s | %d |" % (
            r["memory_mb"], r["server"], md_label(r), r["steady_hit_ratio"], r["hit_ratio"],
            r["dbsize"], mib(r["used_memory"]), mib(r["rss_bytes"]), r["evicted_keys"]))
    out += ["", "| memory | redis, best policy | mnemo, best policy | mnemo − redis | "
            "keys held, mnemo / redis |", "|---:|---|---|---:|---:|"]
    best = best_per_memory(rows)
    for m in sorted(best):
        rd, mn = best[m].get("redis"), best[m].get("mnemo")
        def cell(r):
            return "%.4f (%s)" % (r["steady_hit_ratio"], md_label(r)) if r else "—"
        diff = "%+.2f points" % (100 * (mn["steady_hit_ratio"] - rd["steady_hit_ratio"])) \
            if rd and mn else "—"
        keys = "%.2f" % (mn["dbsize"] / rd["dbsize"]) if rd and mn and rd["dbsize"] else "—"
        out.append("| %d MB | %s | %s | %s | %s |" % (m, cell(rd), cell(mn), diff, keys))
    out += [""] + ["\\" + n for n in extra_notes(rows)]
    return "\n".join(out) + "\n"


def machine_header(args):
    model, commit = cpu_model(), git_commit(ROOT)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return "\n".join([
        "date:     %s" % datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC"),
        "machine:  %d x %s, %.1f GiB, %s" % (os.cpu_count() or 0, model, mem_total_gib(),
                                             " ".join(os.uname()[i] for i in (0, 2))),
        "load:     %s (1/5/15 min)" % load,
        "commit:   %s" % commit,
        "redis:    %s %s" % (args.redis, args.versions.get("redis", "?")),
        "mnemo:    %s %s" % (args.mnemo, args.versions.get("mnemo", "?")),
        "trace:    %d requests, Zipf %g over %d keys, seed %d, 32-byte values, "
        "get-then-set-on-miss in pipelined windows of %d" % (
            args.requests, args.theta, args.keys, args.seed, args.window),
        "figure:   hit ratio over the last 50 % of the requests (steady state)",
        "command:  %s" % " ".join(sys.argv),
    ])


def write_csv(rows, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in CSV_FIELDS})


def read_csv(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k in ("memory_mb", "dbsize", "used_memory", "rss_bytes", "hwm_bytes",
                      "evicted_keys", "requests", "keys", "seed", "window", "set_errors",
                      "repeat_misses"):
                r[k] = int(r[k])
            for k in ("steady_hit_ratio", "hit_ratio", "theta", "warmup", "requests_per_s",
                      "seconds", "steady_ceiling_hit_ratio", "ceiling_hit_ratio"):
                r[k] = float(r[k]) if r.get(k) else None   # absent in older CSVs
            rows.append(r)
    return rows


def report(rows, args):
    print()
    print("hit ratio at equal memory (steady state: the last 50 % of the requests)")
    print(format_table(rows))
    print()
    print(format_summary(rows))
    for n in extra_notes(rows):
        print(n)
    ceilings = {r["steady_ceiling_hit_ratio"] for r in rows} - {None}
    if ceilings:
        print("a cache that never evicts would hit %s of the same requests (only first requests "
              "of a key miss)" % " / ".join("%.4f" % c for c in sorted(ceilings)))
    bad = [r for r in rows if r["set_errors"]]
    for r in bad:
        print("note: %s %s at %d MB refused %d SETs" % (r["server"], r["policy"],
                                                        r["memory_mb"], r["set_errors"]))
    if args.md_out:
        with open(args.md_out, "w") as f:
            f.write(format_markdown(rows))
        print("markdown: %s" % args.md_out)
    sizes = {r["memory_mb"] for r in rows}
    plot = args.plot
    if plot is None and len(sizes) > 1 and not args.no_plot:
        plot = os.path.join(ROOT, "docs", "plots", "hit_ratio.png")
    if plot and not args.no_plot:
        csv_path = args.csv_out or args.from_csv
        p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "plot_hitratio.py"),
                            csv_path, plot], capture_output=True, text=True)
        if p.returncode != 0:
            print("plot failed (python3-matplotlib missing? `bash scripts/deps.sh bench`): %s"
                  % p.stderr.strip()[-500:])
        else:
            print("plot: %s" % plot)


# --------------------------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--memory", default="16,32,64,128", help="maxmemory sizes in MB")
    p.add_argument("--only-64", action="store_true", help="just 64 MB (the issue's figure)")
    p.add_argument("--redis-policies", default="allkeys-lru,allkeys-lfu")
    p.add_argument("--mnemo-policies",
                   default="allkeys-lru,allkeys-lfu,allkeys-s3fifo,allkeys-random")
    p.add_argument("--requests", type=int, default=10_000_000)
    p.add_argument("--keys", type=int, default=4_000_000)
    p.add_argument("--theta", type=float, default=0.99)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mnemo", default=os.path.join(ROOT, "build", "mnemo-server"),
                   help="mnemo-server binary, or 'none' for Redis only")
    p.add_argument("--redis", default="/usr/bin/redis-server")
    p.add_argument("--driver", default=os.path.join(ROOT, "build", "hitratio"))
    p.add_argument("--mnemo-args", default="",
                   help="more mnemo-server settings, e.g. '--maxmemory-high-watermark 98 "
                        "--maxmemory-low-watermark 95' (recorded with each run)")
    p.add_argument("--redis-args", default="",
                   help="more redis-server settings, e.g. '--maxmemory-samples 10'")
    p.add_argument("--csv-out", help="CSV of every run (default bench/results/hitratio-<time>.csv)")
    p.add_argument("--md-out", help="markdown tables of the results")
    p.add_argument("--plot", help="PNG to draw (default docs/plots/hit_ratio.png when more "
                                  "than one memory size was measured)")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--from-csv", help="report (and plot) a CSV of an earlier run; no runs")
    a = p.parse_args()
    a.memory = [64] if a.only_64 else [int(x) for x in a.memory.split(",") if x]
    a.redis_policies = [x for x in a.redis_policies.split(",") if x]
    a.mnemo_policies = [x for x in a.mnemo_policies.split(",") if x]
    return a


def main():
    args = parse_args()
    if args.from_csv:
        rows = read_csv(args.from_csv)
        if not rows:
            sys.exit("hitratio: %s has no rows" % args.from_csv)
        report(rows, args)
        return 0

    for path, what in ((args.driver, "the driver (make build)"), (args.redis, "redis-server")):
        if not os.access(path, os.X_OK):
            sys.exit("hitratio: %s not found: %s" % (what, path))
    if not args.csv_out:
        args.csv_out = os.path.join(ROOT, "bench", "results", "hitratio-%s.csv" %
                                    time.strftime("%Y%m%d-%H%M%S", time.gmtime()))

    def _interrupt(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    workdir = tempfile.mkdtemp(prefix="mnemo-hitratio-")
    servers = [("redis", args.redis_policies)]
    args.versions = {"redis": version_of(args, "redis")}
    if args.mnemo != "none":
        if not os.access(args.mnemo, os.X_OK):
            sys.exit("hitratio: mnemo-server not found: %s (make build, or --mnemo none)"
                     % args.mnemo)
        args.versions["mnemo"] = version_of(args, "mnemo")
        ok, why = mnemo_has_maxmemory(args, workdir)
        if ok:
            servers.append(("mnemo", args.mnemo_policies))
        else:
            print("note: mnemo-server does not accept a maxmemory setting (%s); Redis only" % why)
    print(machine_header(args))
    print()

    rows, refused = [], set()
    try:
        for m in args.memory:
            for server, policies in servers:
                for policy in policies:
                    if (server, policy) in refused:
                        continue
                    try:
                        r = run_one(args, server, m, policy, workdir)
                    except StartError as e:
                        if server != "mnemo":
                            raise
                        print("  %-6s %-6s %-15s not supported: %s" % ("%d MB" % m, server,
                                                                        policy, e), flush=True)
                        refused.add((server, policy))
                        continue
                    rows.append(r)
                    write_csv(rows, args.csv_out)
                    print("  %-6s %-6s %-15s hit ratio %.4f (whole run %.4f)  keys %8d  "
                          "used_memory %6s MiB  RSS %6s MiB  %5.1f s" % (
                              "%d MB" % m, server, config_label(r), r["steady_hit_ratio"],
                              r["hit_ratio"], r["dbsize"], mib(r["used_memory"]),
                              mib(r["rss_bytes"]), r["seconds"]), flush=True)
    except KeyboardInterrupt:
        print("interrupted; reporting the runs done so far", file=sys.stderr)
    if not rows:
        return 1
    print("csv: %s" % args.csv_out)
    report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
