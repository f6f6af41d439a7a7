#!/usr/bin/python3
"""plot_server.py — bar chart of bench/server_bench.py's summary CSV.

    /usr/bin/python3 bench/plot_server.py results.csv out.png [--title TEXT]

Two rows of panels (requests/s, server CPU µs/request), one column per pipeline depth; in each
panel one group of bars per test: for every mnemo thread count, mnemo and the redis-server run
that was paired with it. Needs matplotlib (Debian: python3-matplotlib); uses the Agg backend.
"""

import argparse
import csv
import sys

COLORS_MNEMO = ["#1f77b4", "#6baed6", "#08519c", "#9ecae1"]
COLORS_REDIS = ["#d62728", "#fc9272", "#a50f15", "#fcbba1"]


def read_rows(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k, v in r.items():
                if k in ("threads", "pipeline", "rounds"):
                    r[k] = int(v)
                elif k != "test":
                    r[k] = float(v)
            rows.append(r)
    return rows


def plot(rows, out, title=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = []
    for r in rows:
        if r["test"] not in tests:
            tests.append(r["test"])
    pipelines = sorted({r["pipeline"] for r in rows})
    threads = sorted({r["threads"] for r in rows})
    by = {(r["threads"], r["pipeline"], r["test"]): r for r in rows}

    metrics = [("rps", "requests/s", 1e-3, "thousand requests/s (higher is better)"),
               ("cpu_us_per_req", "server CPU µs/request", 1.0, "server CPU µs/request (lower is better)")]
    fig, axes = plt.subplots(len(metrics), len(pipelines), squeeze=False,
                             figsize=(5.2 * len(pipelines) + 1, 4.2 * len(metrics)))
    nbars = 2 * len(threads)
    width = 0.8 / nbars
    for col, pipeline in enumerate(pipelines):
        for row, (key, label, scale, ylabel) in enumerate(metrics):
            ax = axes[row][col]
            for ti, t in enumerate(threads):
                for si, who in enumerate(("mnemo", "redis")):
                    xs, ys = [], []
                    for i, test in enumerate(tests):
                        r = by.get((t, pipeline, test))
                        if r is None:
                            continue
                        xs.append(i - 0.4 + width * (2 * ti + si) + width / 2)
                        ys.append(r["%s_%s" % (who, key)] * scale)
                    color = (COLORS_MNEMO if who == "mnemo" else COLORS_REDIS)[ti % 4]
                    lab = ("mnemo, %d thread%s" % (t, "s" if t > 1 else "")) if who == "mnemo" \
                        else ("redis (paired with mnemo %dt)" % t if len(threads) > 1 else "redis")
                    bars = ax.bar(xs, ys, width, color=color, label=lab,
                                  hatch="//" if who == "redis" else None, edgecolor="white", linewidth=0.5)
                    fmt = "%.0f" if key == "rps" else "%.1f"
                    ax.bar_label(bars, fmt=fmt, fontsize=6.5, padding=1)
            ax.set_xticks(range(len(tests)))
            ax.set_xticklabels([t.upper() for t in tests])
            ax.set_ylabel(ylabel, fontsize=8.5)
            ax.set_title("%s — %s" % (label, "no pipelining" if pipeline == 1 else "-P %d" % pipeline),
                         fontsize=10)
            ax.grid(axis="y", alpha=0.3)
            ax.set_axisbelow(True)
            ax.margins(y=0.12)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8.5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10.5)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96 if title else 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", help="summary CSV from bench/server_bench.py --csv-out")
    p.add_argument("out", help="PNG to write")
    p.add_argument("--title", default="mnemo-server vs redis-server (redis-benchmark -c 50 -d 32)")
    a = p.parse_args()
    rows = read_rows(a.csv)
    if not rows:
        sys.exit("plot_server: %s has no rows" % a.csv)
    plot(rows, a.out, a.title)


if __name__ == "__main__":
    main()
