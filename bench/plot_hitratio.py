#!/usr/bin/python3
"""plot_hitratio.py — hit ratio against memory, from bench/hitratio.py's CSV.

    /usr/bin/python3 bench/plot_hitratio.py results.csv out.png [--title TEXT]

Left: the steady-state hit ratio for each server and eviction policy against maxmemory (16, 32,
64, 128 MB on a log scale); right: the keys each server held at the end of the run. mnemo's
policies are drawn in blues, Redis's in reds; the better policy of each server at each size is
labelled with its value. Needs matplotlib (Debian: python3-matplotlib); uses the Agg backend.
"""

import argparse
import csv
import sys

ORDER = ["allkeys-s3fifo", "allkeys-lfu", "allkeys-lru", "allkeys-random"]
COLORS = {"mnemo": ["#08519c", "#3182bd", "#6baed6", "#9ecae1"],
          "redis": ["#a50f15", "#de2d26", "#fb6a4a", "#fcae91"]}
MARKERS = ["o", "s", "^", "D"]


def read_rows(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            r["memory_mb"] = int(r["memory_mb"])
            r["steady_hit_ratio"] = float(r["steady_hit_ratio"])
            r["dbsize"] = int(r["dbsize"])
            rows.append(r)
    return rows


def plot(rows, out, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for r in rows:
        config = r["policy"] + (" " + r["extra_args"] if r.get("extra_args") else "")
        series.setdefault((r["server"], config), []).append(r)
    best = {}
    for r in rows:
        k = (r["memory_mb"], r["server"])
        if k not in best or r["steady_hit_ratio"] > best[k]["steady_hit_ratio"]:
            best[k] = r
    sizes = sorted({r["memory_mb"] for r in rows})

    fig, (ax, axk) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    index = {"mnemo": 0, "redis": 0}
    def order(kv):
        (server, config) = kv[0]
        policy = config.split()[0]
        return (server != "mnemo", ORDER.index(policy) if policy in ORDER else len(ORDER), config)
    for (server, policy), pts in sorted(series.items(), key=order):
        pts.sort(key=lambda r: r["memory_mb"])
        i = index.get(server, 0)
        index[server] = i + 1
        color = COLORS.get(server, COLORS["redis"])[i % 4]
        style = dict(color=color, marker=MARKERS[i % 4], markersize=5, linewidth=1.6,
                     linestyle="-" if server == "mnemo" else "--")
        label = "%s, %s" % (server, policy)
        xs = [r["memory_mb"] for r in pts]
        ax.plot(xs, [100 * r["steady_hit_ratio"] for r in pts], label=label, **style)
        axk.plot(xs, [r["dbsize"] / 1e6 for r in pts], label=label, **style)
        for r in pts:
            if best[(r["memory_mb"], server)] is r:
                ax.annotate("%.1f" % (100 * r["steady_hit_ratio"]),
                            (r["memory_mb"], 100 * r["steady_hit_ratio"]),
                            textcoords="offset points", xytext=(0, 7 if server == "mnemo" else -13),
                            ha="center", fontsize=7.5, color=color)
    ceilings = sorted({float(r["steady_ceiling_hit_ratio"]) for r in rows
                       if r.get("steady_ceiling_hit_ratio")})
    if len(ceilings) == 1:
        ax.axhline(100 * ceilings[0], color="#777777", linestyle=":", linewidth=1.2,
                   label="a cache that never evicts (%.1f)" % (100 * ceilings[0]))
    for a, ylabel in ((ax, "hit ratio, % (last 50 % of the requests)"),
                      (axk, "keys held at the end, millions")):
        a.set_xscale("log", base=2)
        a.set_xticks(sizes)
        a.set_xticklabels(["%d MB" % s for s in sizes])
        a.set_xlabel("maxmemory")
        a.set_ylabel(ylabel, fontsize=9)
        a.grid(alpha=0.3)
        a.set_axisbelow(True)
    ax.set_title("hit ratio at equal maxmemory", fontsize=10)
    axk.set_title("keys held", fontsize=10)
    ax.margins(y=0.1)
    ax.legend(fontsize=7.5, loc="best")
    if title:
        fig.suptitle(title, fontsize=9.5)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if title else 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", help="CSV from bench/hitratio.py")
    p.add_argument("out", help="PNG to write")
    p.add_argument("--title", default=None)
    a = p.parse_args()
    rows = read_rows(a.csv)
    if not rows:
        sys.exit("plot_hitratio: %s has no rows" % a.csv)
    r0 = rows[0]
    title = a.title or ("get-then-set-on-miss, Zipf %s over %s keys, %s requests, 32-byte "
                        "values (mnemo-server vs redis-server)" % (
                            r0.get("theta", "?"), format(int(r0.get("keys", 0)), ","),
                            format(int(r0.get("requests", 0)), ",")))
    plot(rows, a.out, title)


if __name__ == "__main__":
    main()
